// One mailbox, one key: a local part quoted for nothing ("alice"@x, "al\ice"@x) names the same mailbox as
// alice@x (RFC 5321 4.1.2: a quoted string and its unquoted form are equivalent where the unquoted form is
// allowed). Exim keeps the quotes in $sender_address and Postfix drops them, so each quoting was a key of its
// own: a client multiplied a per-sender allowance by quoting its address again, and hosts of the two MTAs
// sharing counters through Redis counted one sender twice. Pure.

// What a local part may hold unquoted, lower case (the keys are): RFC 5322's atext in dot-atoms, and UTF-8
// (RFC 6532). Linear: the words' characters exclude the dot that separates them.
const DOT_ATOM =
  /^[a-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+(?:\.[a-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uffff]+)*$/;

/** `address` with its local part unquoted when the quotes (and backslashes) change nothing; else as is. */
export function withoutNeedlessQuotes(address: string): string {
  if (address.charCodeAt(0) !== 0x22) return address;
  const at = address.lastIndexOf("@");
  if (at < 2 || address.charCodeAt(at - 1) !== 0x22) return address;
  const local = address.slice(1, at - 1).replace(/\\(.)/g, "$1");
  return DOT_ATOM.test(local) ? local + address.slice(at) : address;
}
