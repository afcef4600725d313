// Which header lines a message has been given, so that each goes into it once. Exim's RCPT ACL adds an
// answer's header for every recipient (its add_header drops only an identical line), and so does Postfix
// for every RCPT's PREPEND (measured: three recipients, three Received-SPF lines). A limit counted per
// recipient warns with its count, which differs from one recipient to the next: a message to 50 recipients
// over a `per = recipient` warn limit got up to 49 warning lines. A message is its `instance` (the Exim
// snippet's $acl_m_mpd_instance, Postfix's instance attribute); a line is its field name, and for the
// limits' warning its field name and rule: one Received-SPF a message, one warning a rule. Pure.
import type { Decision } from "../model/answer.ts";

/** The field of a limit's warn header (policy/verdict.ts). */
export const WARNING_FIELD = "X-Mailpolicyd-Warning";
const WARNING_NAME = WARNING_FIELD.toLowerCase();

/** Messages whose headers are remembered; past it the oldest is forgotten. */
const REMEMBERED_MESSAGES = 4096;

/** True the first time `header` (by its identity, above) is given to the message `instance`. */
export type HeaderMemory = (instance: string, header: string, rule: string | undefined) => boolean;

function identity(header: string, rule: string | undefined): string {
  const colon = header.indexOf(":");
  const name = (colon < 0 ? header : header.slice(0, colon)).trim().toLowerCase();
  return name === WARNING_NAME && rule !== undefined ? `${name} ${rule}` : name;
}

/**
 * Says whether a header is new for the message `instance`, and remembers it. Bounded: the last
 * REMEMBERED_MESSAGES instances (RCPTs of one message come within seconds, whatever else interleaves).
 */
export function headerMemory(max = REMEMBERED_MESSAGES): HeaderMemory {
  const seen = new Map<string, string[]>();
  return (instance, header, rule) => {
    const name = identity(header, rule);
    const names = seen.get(instance);
    if (names?.includes(name)) return false;
    if (names) names.push(name);
    else {
      if (seen.size >= max) seen.delete(seen.keys().next().value!);
      seen.set(instance, [name]);
    }
    return true;
  };
}

/**
 * The decision with only the headers its message has not been given yet (the readsocket reply carries them
 * all; Exim adds them with add_header). A refusal's headers are left alone: no snippet adds them, so they
 * are not remembered either. The same decision when nothing is dropped.
 */
export function newHeadersOnly(
  decision: Decision,
  instance: string | undefined,
  memory: HeaderMemory,
): Decision {
  const headers = decision.headers;
  if (!headers?.length || instance === undefined || instance === "") return decision;
  if (decision.action === "defer" || decision.action === "reject") return decision;
  const kept = headers.filter((header) => memory(instance, header, decision.rule));
  if (kept.length === headers.length) return decision;
  return { ...decision, headers: kept.length > 0 ? kept : undefined, quotedHeaders: undefined };
}
