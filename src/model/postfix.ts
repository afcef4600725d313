// What the Postfix listener is configured with: the shape config/ builds from the [postfix] section. The
// words each decision may be said in are declared here and read by config/schema.ts (docs/postfix.md,
// "Replies").

/**
 * accept: DUNNO (the default) lets the restrictions after check_policy_service decide; OK would permit
 * the recipient at once, skipping them (reject_unauth_destination among them, when listed after).
 */
export const POSTFIX_ACCEPT = ["DUNNO", "OK"] as const;
/**
 * defer: DEFER_IF_PERMIT (the default) defers only if no later restriction rejects, so a reject elsewhere
 * still wins; "451 4.7.1" defers at once.
 */
export const POSTFIX_DEFER = ["DEFER_IF_PERMIT", "451 4.7.1"] as const;
export const POSTFIX_REJECT = ["REJECT", "550 5.7.1"] as const;
/** warn: WARN logs the text in Postfix's maillog; DUNNO says nothing (mailpolicyd logs it anyway). */
export const POSTFIX_WARN = ["WARN", "DUNNO"] as const;
/** headers: PREPEND adds the first header line of an answer that lets the mail through; NONE drops them. */
export const POSTFIX_HEADERS = ["PREPEND", "NONE"] as const;

/** The words a decision is said in. */
export interface PostfixVocabulary {
  accept: typeof POSTFIX_ACCEPT[number];
  defer: typeof POSTFIX_DEFER[number];
  reject: typeof POSTFIX_REJECT[number];
  warn: typeof POSTFIX_WARN[number];
  headers: typeof POSTFIX_HEADERS[number];
}

export interface PostfixConfig {
  /** Loopback TCP; undefined: listen = none. */
  listen?: { hostname: string; port: number };
  /** A Unix socket path; undefined: none. */
  socket?: string;
  /** Mode and group of both Unix sockets, socket's and milterSocket's (Postfix connects as one user). */
  socketMode: number;
  socketGroup?: string;
  vocabulary: PostfixVocabulary;
  /** A connection waiting longer than this for its next request is closed (Postfix's max_idle, 300 s). */
  idleTimeoutMs: number;
  /** A request block longer than this is malformed: logged, and the connection closed. */
  maxRequestBytes: number;
  /** Loopback TCP of the milter for mail handed to sendmail (non_smtpd_milters); undefined: none. */
  milterListen?: { hostname: string; port: number };
  /** The milter's Unix socket path; undefined: none. */
  milterSocket?: string;
  /**
   * A milter connection waiting longer than this for Postfix's next frame is closed. It is always within a
   * message (cleanup connects once a message), and Postfix does not reconnect: its default_action applies.
   */
  milterTimeoutMs: number;
}
