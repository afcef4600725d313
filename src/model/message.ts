// A whole message asked about at the end of DATA (the spamd front, later Postfix's END-OF-MESSAGE): the
// envelope the MTA told, and the bytes as it sent them (bounded by the listener that read them).

/** What the MTA says about a message besides its bytes; every field as the MTA sent it, possibly empty. */
export interface MessageEnvelope {
  /** MAIL FROM, without angle brackets; "" for the null sender. */
  sender: string;
  recipients: readonly string[];
  clientAddress?: string;
  helo?: string;
  /** The user whose SpamAssassin preferences apply: the spamd `User:` the MTA sent (SPAMC's, not rspamd's). */
  user?: string;
  queueId?: string;
}
