// Characters of mail's text (keys, subjects, HELO names) that must not reach a person as themselves, as
// regular expressions' character class bodies (strings: the dashboard's script builds its own from them).
// UNPRINTABLE_CHARS names a Unicode property: a regular expression made of it needs the "u" flag.

/**
 * Control characters: C0 (tab and line feed too: a cell or line must stay one), DEL, C1 (0x9b is a CSI on
 * many terminals), and the Unicode line and paragraph separators.
 */
export const CONTROL_CHARS = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029";

/**
 * Unicode's format characters (general category Cf), which a sender address may hold with SMTPUTF8 (a HELO
 * name or a login anything). The bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069): a mail client, a terminal that does bidi (Konsole, VTE's) or a browser applies them, so
 * "\u202Egro.elpmaxe@nimda" shows as "admin@example.org", and what follows it on the line (a count, a
 * rule) is turned round too. The others draw nothing: a zero-width space, joiner or no-break
 * (U+200B-U+200D, U+2060, U+FEFF), a soft hyphen (U+00AD), U+180E, the tag characters (U+E0000-U+E007F, the
 * unassigned ones of that block too): "admin\u200b@example.org" is another account than
 * "admin@example.org" and showed as it. The runtime's Unicode tables say which they all are.
 */
export const INVISIBLE_FORMAT_CHARS = "\\p{Cf}\\u{E0000}-\\u{E007F}";

/** Both: what the CLI, the log and the dashboard show escaped (\xNN, \uNNNN, \u{NNNNN}). */
export const UNPRINTABLE_CHARS = CONTROL_CHARS + INVISIBLE_FORMAT_CHARS;
