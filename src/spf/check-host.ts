// check_host() of RFC 7208, for the MAIL FROM and HELO identities: the module's public entry point
// (docs/spf.md). Pure apart from the resolver it is handed and one timer for its time budget; DNS
// caching, verdicts and headers belong to its callers.
import { type CheckContext, expandedTarget, type Outcome } from "./check-context.ts";
import { createDnsSession } from "./dns-session.ts";
import { checkableDomain } from "./domain-name.ts";
import { explain } from "./explanation.ts";
import { clientAddress } from "./ip-address.ts";
import { matches } from "./mechanisms.ts";
import { parsedSpfRecord, type Qualifier, selectSpfRecord, type SpfRecord } from "./record.ts";
import { permError, SpfError } from "./spf-error.ts";
import type { CheckHostOptions, SpfCheck, SpfIdentity, SpfResult, SpfTraceEntry } from "./types.ts";

export type * from "./types.ts";

export const DEFAULT_TIMEOUT_MS = 20_000;
export const DEFAULT_LOOKUP_LIMIT = 10;
export const DEFAULT_VOID_LOOKUP_LIMIT = 2;

const QUALIFIER_RESULT: Record<Qualifier, SpfResult> = {
  "+": "pass",
  "-": "fail",
  "~": "softfail",
  "?": "neutral",
};

type Found = { domain: string; record: SpfRecord } | { none: Outcome };

/** The record of `domain`, parsed, or why there is none (§4.3, §4.4, §4.5). */
async function recordOf(context: CheckContext, domainText: string): Promise<Found> {
  const domain = checkableDomain(domainText);
  if (domain === undefined) {
    return { none: { result: "none", problem: `"${domainText}" is not a domain name` } };
  }
  const answer = await context.session.query("TXT", domain);
  const text = selectSpfRecord(answer.records);
  if (text === undefined) return { none: { result: "none", problem: `${domain} has no SPF record` } };
  context.trace?.push({ kind: "record", domain, record: text });
  return { domain, record: parsedSpfRecord(text) };
}

/**
 * check_host() on one domain: the first matching mechanism decides, else redirect=, else neutral.
 * `wantExplanation` is false inside include (§6.2: the target's exp= is never used); a redirect passes
 * it on, so the target's exp= explains the target's fail and the original's is never used.
 */
async function evaluate(
  context: CheckContext,
  domainText: string,
  wantExplanation: boolean,
): Promise<Outcome> {
  const found = await recordOf(context, domainText);
  if ("none" in found) return found.none;
  const { domain, record } = found;
  for (const mechanism of record.mechanisms) {
    if (!await matches(context, mechanism, domain)) continue;
    const result = QUALIFIER_RESULT[mechanism.qualifier];
    context.trace?.push({ kind: "match", domain, mechanism: mechanism.term, result });
    const explanation = result === "fail" && wantExplanation && record.exp
      ? await explain(context, record.exp, domain)
      : undefined;
    return { result, mechanism: mechanism.term, ...(explanation === undefined ? {} : { explanation }) };
  }
  if (!record.redirect) return { result: "neutral" };
  context.session.countLookup(record.redirect.term);
  const target = await expandedTarget(context, record.redirect.domain, domain);
  context.trace?.push({ kind: "redirect", domain, target });
  const outcome = await evaluate(context, target, wantExplanation);
  if (outcome.result === "none") throw permError(`redirect target ${target} has no SPF record`);
  return outcome;
}

/** The identity's parts: for HELO, and for a null sender, postmaster@helo (§2.3, §2.4). */
function identityOf(sender: string, helo: string, identity: SpfIdentity) {
  const address = identity === "helo" ? `postmaster@${helo}` : sender;
  const at = address.lastIndexOf("@");
  const domain = (at < 0 ? address : address.slice(at + 1)).replace(/\.$/, "");
  const local = at > 0 ? address.slice(0, at) : "postmaster"; // "@example.net" or no "@" at all (§4.3)
  return { domain, local, sender: `${local}@${domain}` };
}

/**
 * RFC 7208 check_host() for a client address, an envelope sender ("" for the null sender) and the
 * HELO name. Never rejects for DNS trouble or bad records (those are results); throws TypeError only
 * when `ip` is not an IP address, which is the caller's to validate.
 */
export async function checkHost(
  ip: string,
  sender: string,
  helo: string,
  options: CheckHostOptions,
): Promise<SpfCheck> {
  const client = clientAddress(ip);
  if (!client) throw new TypeError(`checkHost: "${ip}" is not an IP address`);
  const identity = options.identity ?? (sender === "" ? "helo" : "mailfrom");
  const parts = identityOf(sender, helo, identity);
  const trace: SpfTraceEntry[] | undefined = options.trace ? [] : undefined;
  const session = createDnsSession(options.resolver, {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    lookupLimit: options.lookupLimit ?? DEFAULT_LOOKUP_LIMIT,
    voidLookupLimit: options.voidLookupLimit ?? DEFAULT_VOID_LOOKUP_LIMIT,
    trace,
  });
  const context: CheckContext = {
    session,
    ip: client,
    sender: parts.sender,
    local: parts.local,
    senderDomain: parts.domain,
    helo,
    receivingHost: options.receivingHost ?? "unknown",
    now: options.now ?? Date.now,
    trace,
    evaluate: (domain, wantExplanation) => evaluate(context, domain, wantExplanation),
  };
  let outcome: Outcome;
  try {
    outcome = await evaluate(context, parts.domain, true);
  } catch (error) {
    if (!(error instanceof SpfError)) throw error;
    outcome = { result: error.result, problem: error.message };
    trace?.push({ kind: "error", domain: parts.domain, result: error.result, problem: error.message });
  } finally {
    session.finish();
  }
  return {
    ...outcome,
    domain: parts.domain,
    identity,
    lookups: session.lookups,
    voidLookups: session.voidLookups,
    ...(context.senderSpecific ? { senderSpecific: true } : {}),
    ...(trace ? { trace } : {}),
  };
}
