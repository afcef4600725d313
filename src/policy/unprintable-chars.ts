// Characters of mail's text (keys, subjects, HELO names) that must not reach a person as themselves, as
// regular expressions' character class bodies (strings: the dashboard's script builds its own from them).
// UNPRINTABLE_CHARS names a Unicode property: a regular expression made of it needs the "u" flag.

/**
 * Control characters: C0 (tab and line feed too: a cell or line must stay one), DEL, C1 (0x9b is a CSI on
 * many terminals), and the Unicode line and paragraph separators.
 */
export const CONTROL_CHARS = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029";

/**
 * Characters that draw nothing or turn the text round, which a sender address may hold with SMTPUTF8 (a HELO
 * name or a login anything). Unicode's format characters (general category Cf): the bidirectional controls
 * (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), which a mail client, a terminal that does bidi
 * (Konsole, VTE's) or a browser applies, so "\u202Egro.elpmaxe@nimda" shows as "admin@example.org", and what
 * follows it on the line (a count, a rule) is turned round too; a zero-width space, joiner or no-break
 * (U+200B-U+200D, U+2060, U+FEFF), a soft hyphen (U+00AD), U+180E, the tag characters (U+E0000-U+E007F, the
 * unassigned ones of that block too). Then the rest of Unicode's default ignorable code points, which a
 * font draws as nothing too: the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), the variation selectors
 * (U+FE00-U+FE0F, U+E0100-U+E01EF: an emoji's U+FE0F is written out with them), the combining grapheme
 * joiner U+034F; and the blank Braille pattern U+2800, which is no ignorable code point but draws a blank
 * all the same. "admin\u200b@example.org" or "admin\u3164@example.org" is another account than
 * "admin@example.org" and showed as it. The runtime's Unicode tables say which they all are.
 */
export const INVISIBLE_CHARS = "\\p{Cf}\\p{Default_Ignorable_Code_Point}\\u2800\\u{E0000}-\\u{E007F}";

/** Both: what the CLI, the log and the dashboard show escaped (\xNN, \uNNNN, \u{NNNNN}). */
export const UNPRINTABLE_CHARS = CONTROL_CHARS + INVISIBLE_CHARS;
