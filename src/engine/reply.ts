// The decision as the readsocket reply (docs/protocol.md): `action=defer message="…" rule=outbound count=20
// limit=20 header="…"` in the attribute form, a bare yes/no in the one-token form.
import { formatAttributes, quoteValue } from "../protocols/attributes.ts";
import { asciiReplyText } from "../protocols/ascii-reply-text.ts";
import { formatErrorReply, formatLegacyReply } from "../protocols/readsocket.ts";
import type { Decision } from "../model/answer.ts";

let lastDecision: Decision | undefined;
let lastReply = "";

/** The attribute-form reply. */
export function formatDecision(decision: Decision): string {
  if (decision.action === "accept" && !decision.fields && !decision.message && !decision.headers) {
    return "action=accept"; // most answers
  }
  // A refused sender asks again and again while its count stands still, and gets the same (frozen)
  // decision each time: its reply is built once.
  if (decision === lastDecision) return lastReply;
  lastReply = buildReply(decision);
  lastDecision = decision;
  return lastReply;
}

function buildReply(decision: Decision): string {
  // Built directly rather than through formatAttributes: a refused sender may ask thousands of times.
  let line = `action=${decision.action}`;
  if (decision.message !== undefined) line += ` message=${quoteValue(refusalText(decision))}`;
  if (decision.fields) {
    for (const [name, value] of decision.fields) line += ` ${name}=${quoteValue(String(value))}`;
  }
  // Exim's add_header takes several header lines separated by newlines; quoteValue writes them as \n,
  // which ${extract} turns back into newlines.
  if (decision.headers?.length) {
    line += ` header=${decision.quotedHeaders ?? quoteValue(decision.headers.join("\n"))}`;
  }
  return line;
}

/**
 * The snippets' `message =` writes a refusal's text into Exim's SMTP reply as it is, to clients that did not
 * ask for SMTPUTF8 too: ASCII (protocols/ascii-reply-text.ts). A warning's text only reaches Exim's log.
 */
function refusalText(decision: Decision): string {
  const message = decision.message!;
  return decision.action === "defer" || decision.action === "reject" ? asciiReplyText(message) : message;
}

/** The one-token form's reply: "yes" when some rule matched (the decision is flagged), else "no". */
export function formatLegacyDecision(decision: Decision): string {
  return formatLegacyReply(decision.flagged === true);
}

/**
 * The answer to a request that could not be read: `error <reason>` in the one-token form; in the attribute
 * form a defer whose text the snippets' `message =` writes into Exim's SMTP reply, so printable ASCII as a
 * refusal's (the reason may quote the request's stage word as it came: controls, any script).
 */
export function formatBadRequestReply(form: "legacy" | "attributes", reason: string): string {
  if (form === "legacy") return formatErrorReply(reason);
  // deno-lint-ignore no-control-regex
  const text = asciiReplyText(`mailpolicyd: bad request: ${reason}`.replace(/[\x00-\x1f\x7f]+/g, " "));
  return formatAttributes([["action", "defer"], ["message", text]]);
}
