// A Subject for display (alert mail, status): RFC 2047 encoded words decoded with libmime, raw 8-bit
// already turned into characters by the request decoder, controls blanked, length bounded.
import libmime from "libmime";

const MAX_SUBJECT_CHARS = 200;

/**
 * The Subject as a reader sees it, whole: encoded words decoded (one that cannot be is left as written:
 * broken encoded words are spam's speciality), controls blanked, whitespace collapsed. Never throws.
 */
export function decodeSubject(raw: string): string {
  let text = raw;
  try {
    text = libmime.decodeWords(raw);
  } catch {
    // show the raw text rather than nothing
  }
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]+/g, " ").replace(/\s+/g, " ").trim();
}

/** decodeSubject, cut to a length fit for a log line or an alert. */
export function displaySubject(raw: string): string {
  const text = decodeSubject(raw);
  // Cut by code points: a cut inside a surrogate pair would leave half an emoji.
  const chars = Array.from(text);
  return chars.length > MAX_SUBJECT_CHARS ? `${chars.slice(0, MAX_SUBJECT_CHARS - 1).join("")}…` : text;
}
