// Exim reads a leading reply code in an ACL's `message`: three digits and a space (and any enhanced status
// codes after them) become the SMTP reply's code instead of the verb's (smtp_in.c, smtp_message_code). A
// code of the verb's class replaces it; one of another class is written to Exim's panic log (Debian's daily
// cron then mails root about it) and cut off the text. A postmaster may write such a code into a limit's
// `message` on purpose; a sender's text must not: a recipient `"550 5.1.1 x"@example.net` under a
// recipient-keyed limit, or an SPF exp= text from the sender's own DNS.

const REPLY_CODE = /^\d{3}\s/;

/** True when Exim would take the start of `text` for a reply code. */
export function startsWithReplyCode(text: string): boolean {
  return REPLY_CODE.test(text);
}

/** `text`, with `prefix` before it when it would start with a reply code; otherwise as it is. */
export function withoutReplyCode(text: string, prefix: string): string {
  return REPLY_CODE.test(text) ? `${prefix}${text}` : text;
}
