// Whether the DNS servers answer at all, told apart from one domain whose own DNS is broken. A lookup that
// fails (every try timed out, SERVFAIL, REFUSED, a referral, …) says little on its own: a recursive
// resolver answers SERVFAIL, or too late, for a domain with a lame or broken delegation while it answers
// every other one. So the servers are "not answering" only once lookups of DOMAINS_BEFORE_DOWN different
// domains failed with none answered between (NXDOMAIN and NODATA are answers), and answering again at the
// next lookup answered. Pure: the resolver reports each exchange's end, the clock is passed in.
import { canonicalName } from "./answer.ts";

/**
 * Different domains whose lookups failed in a row before the servers count as not answering. A site
 * mostly sees answered lookups between two failing domains; five in a row with none answered is a
 * resolver that stopped, or a run of mail from dead domains that lasts until the next answered lookup.
 */
export const DOMAINS_BEFORE_DOWN = 5;

/** What status and /metrics show of the servers; `since` and `lastError` only while not answering. */
export interface DnsServerHealth {
  state: "answering" | "not answering";
  /** ms since epoch: the first failed lookup of the run that made the servers count as not answering. */
  since?: number;
  /** The last failed lookup's code: ETIMEOUT, ESERVFAIL, EREFUSED, ECONNREFUSED, … */
  lastError?: string;
  /** Lookups failed since `since`. */
  failedLookups: number;
  /** Times the servers stopped answering since the resolver was made. */
  incidents: number;
}

/** Called when the state changes: once when the servers stop answering, once when they answer again. */
export type DnsHealthChange = (health: DnsServerHealth, was: DnsServerHealth) => void;

/**
 * The domain a name counts for: its last two labels. A registered domain has at least two, so two names of
 * one domain (its TXT, its MX hosts, `_spf.` names) always count as one, and names of two domains count as
 * two or, under one public suffix (a.co.uk, b.co.uk), as one: never more domains than there are.
 */
export function domainOf(name: string): string {
  const labels = canonicalName(name).split(".");
  return labels.slice(-2).join(".");
}

export class DnsServerWatch {
  readonly #now: () => number;
  readonly #onChange?: DnsHealthChange;
  /** The domains that failed since the last answer, up to DOMAINS_BEFORE_DOWN; cleared by an answer. */
  readonly #failingDomains = new Set<string>();
  #runStarted = 0;
  #runFailures = 0;
  #health: DnsServerHealth = { state: "answering", failedLookups: 0, incidents: 0 };

  constructor(now: () => number, onChange?: DnsHealthChange) {
    this.#now = now;
    this.#onChange = onChange;
  }

  /** A lookup the servers answered (records, NXDOMAIN or NODATA). */
  answered(): void {
    this.#failingDomains.clear();
    this.#runFailures = 0;
    if (this.#health.state === "answering") return;
    const was = this.#health;
    this.#health = { state: "answering", failedLookups: 0, incidents: was.incidents };
    this.#onChange?.(this.health(), was);
  }

  /** A lookup of `name` that got no answer: `code` says why (dns-error.ts). */
  failed(name: string, code: string): void {
    if (this.#health.state === "not answering") {
      this.#health.failedLookups++;
      this.#health.lastError = code;
      return;
    }
    if (this.#runFailures++ === 0) this.#runStarted = this.#now();
    this.#failingDomains.add(domainOf(name));
    if (this.#failingDomains.size < DOMAINS_BEFORE_DOWN) return;
    const was = this.health();
    this.#failingDomains.clear();
    this.#health = {
      state: "not answering",
      since: this.#runStarted,
      lastError: code,
      failedLookups: this.#runFailures,
      incidents: was.incidents + 1,
    };
    this.#onChange?.(this.health(), was);
  }

  health(): DnsServerHealth {
    return { ...this.#health };
  }
}
