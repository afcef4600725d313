// What one check knows while it runs: the client, the identity, the DNS session, and how to evaluate a
// domain (for include and redirect). Also the macro letters' values, which all depend on it, with the
// current <domain> passed in, because %{d} is the domain of the record being evaluated, not the sender's
// (an include or redirect changes it; issue 18 names implementations that got this wrong).
import type { DnsSession } from "./dns-session.ts";
import { truncatedName } from "./domain-name.ts";
import { displayAddress, macroAddress, type ParsedIp } from "./ip-address.ts";
import { expandMacroString, type MacroLetter, type MacroString, usesLetter } from "./macro.ts";
import { validatedNameFor } from "./ptr-names.ts";
import type { SpfResult, SpfTraceEntry } from "./types.ts";

/** What evaluating one domain's record gives: its result and, when a term decided it, that term. */
export interface Outcome {
  result: SpfResult;
  mechanism?: string;
  explanation?: string;
  problem?: string;
}

export interface CheckContext {
  session: DnsSession;
  ip: ParsedIp;
  /** local-part@domain; "postmaster" stands in for an empty local-part (§4.3). */
  sender: string;
  local: string;
  senderDomain: string;
  helo: string;
  receivingHost: string;
  now: () => number;
  trace?: SpfTraceEntry[];
  /** Set when a macro used %{s} %{l} %{h} or %{t}: the result then holds for this sender and HELO only. */
  senderSpecific?: boolean;
  /** check_host() for an include or redirect target; `explain` says whether a fail wants its exp=. */
  evaluate(domain: string, explain: boolean): Promise<Outcome>;
}

// The letters whose value is not the same for every sender of a domain from one client address.
const SENDER_SPECIFIC = new Set<MacroLetter>(["s", "l", "h", "t"]);

function letterValue(context: CheckContext, domain: string, letter: MacroLetter, p: string): string {
  if (SENDER_SPECIFIC.has(letter)) context.senderSpecific = true;
  switch (letter) {
    case "s":
      return context.sender;
    case "l":
      return context.local;
    case "o":
      return context.senderDomain;
    case "d":
      return domain;
    case "i":
      return macroAddress(context.ip);
    case "p":
      return p;
    case "v":
      return context.ip.version === 4 ? "in-addr" : "ip6";
    case "h":
      return context.helo;
    case "c":
      return displayAddress(context.ip);
    case "r":
      return context.receivingHost;
    case "t":
      return String(Math.floor(context.now() / 1000));
  }
}

/**
 * Expands a parsed macro-string for the record of `domain`. %{p} is looked up only when the string uses
 * it; its lookups are not counted against the 10-term limit (the term that uses it already is).
 */
export async function expandIn(
  context: CheckContext,
  macro: MacroString,
  domain: string,
): Promise<string> {
  const p = usesLetter(macro, "p") ? await validatedNameFor(context.session, context.ip, domain) : "";
  return expandMacroString(macro, (letter) => letterValue(context, domain, letter, p));
}

/**
 * An include's or redirect's target: the expanded domain-spec cut from the left to 253 octets (§7.3), as
 * every other target is; one that cannot be cut stays as it is, and check_host() finds it is no domain.
 */
export async function expandedTarget(
  context: CheckContext,
  macro: MacroString,
  domain: string,
): Promise<string> {
  const expanded = await expandIn(context, macro, domain);
  return truncatedName(expanded) ?? expanded;
}
