// Codec for Exim's ${readsocket}: one request per connection, one reply, no trailing newline (an ACL
// `condition` accepts only a bare yes/no). See docs/protocol.md.

export const MAX_REQUEST_BYTES = 4096;

export type ReadsocketRequest =
  | { kind: "legacy"; key: string }
  | { kind: "invalid"; reason: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The request is everything up to the first newline (Exim's `\n`) or the half-close. */
export function parseReadsocketRequest(bytes: Uint8Array): ReadsocketRequest {
  const newline = bytes.indexOf(0x0a);
  const line = newline >= 0 ? bytes.subarray(0, newline) : bytes;
  if (line.length > MAX_REQUEST_BYTES) {
    return { kind: "invalid", reason: `request longer than ${MAX_REQUEST_BYTES} bytes` };
  }
  if (line.includes(0)) return { kind: "invalid", reason: "NUL byte in request" };
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { kind: "invalid", reason: "request is not valid UTF-8" };
  }
  text = text.replace(/\r$/, "");
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/.test(text)) {
    return { kind: "invalid", reason: "control character in request" };
  }
  const token = text.trim();
  // The seed counted an empty $sender_address (a bounce) as "<>".
  if (token === "" || token === "<>") return { kind: "legacy", key: "<>" };
  if (/\s/.test(token)) return { kind: "invalid", reason: "expected one token: an address or an IP address" };
  // Addresses differ only in case for a spammer's purpose: count them as one.
  return { kind: "legacy", key: token.toLowerCase() };
}

export function formatLegacyReply(over: boolean): string {
  return over ? "yes" : "no";
}

/** `error <reason>`: not yes/no, so Exim's condition defers and logs it, which is what bad input deserves. */
export function formatErrorReply(reason: string): string {
  // deno-lint-ignore no-control-regex
  return `error ${reason.replace(/[\x00-\x1f\x7f]+/g, " ")}`;
}
