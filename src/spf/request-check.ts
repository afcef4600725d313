// One request's SPF checks: the MAIL FROM identity (postmaster@HELO for the null sender) and, as
// helo_check says, the HELO identity, each answered from the result cache or by checkHost through a
// resolver that notes the TTLs it used; then the verdict. Pure apart from checkHost's budget timer: the
// resolver and the cache are handed in (the SPF actor owns them).
import type { ConcernAnswer } from "../model/answer.ts";
import type { SpfPolicy } from "../model/spf.ts";
import { checkHost } from "./check-host.ts";
import type { CachedCheck, SpfResultCache } from "./result-cache.ts";
import type { SpfIdentity, SpfResolver } from "./types.ts";
import { spfAnswer } from "./verdict.ts";

/** Notes the lowest TTL (seconds) of the answers a check used; dns/resolver.ts TtlCollector's shape. */
export interface TtlNote {
  min: number;
  note(ttl: number): void;
}

/** A resolver that notes TTLs: CachingResolver.withTtl. */
export interface TtlResolverSource {
  withTtl(ttl: TtlNote): SpfResolver;
}

export interface SpfChecker {
  dns: TtlResolverSource;
  cache: SpfResultCache;
  /** Checks under way, by identity, client, sender and HELO: a second request waits for the first. */
  inFlight: Map<string, Promise<CachedCheck>>;
  /** checkHost's time budget, ms. */
  budgetMs: number;
  /** This host's name: %{r} and Received-SPF. */
  receiver: string;
  /** Called once per check that ran (not for cache hits): the metrics count results here. */
  ran?(check: CachedCheck): void;
}

export interface SpfSubject {
  ip: string;
  sender: string;
  helo: string;
}

/**
 * One identity's result: cached (returned as it is, not in a promise), joined to the same check under way,
 * or checked now.
 */
export function checkIdentity(
  checker: SpfChecker,
  subject: SpfSubject,
  identity: SpfIdentity,
): CachedCheck | Promise<CachedCheck> {
  const { ip, sender, helo } = subject;
  const hit = checker.cache.get(ip, identity, sender, helo);
  if (hit !== undefined) return hit;
  // A HELO check is the same for every sender.
  const key = identity === "helo" ? `helo ${ip} ${helo}` : `mailfrom ${ip} ${sender} ${helo}`;
  const running = checker.inFlight.get(key);
  if (running !== undefined) return running;
  const checking = runCheck(checker, subject, identity).finally(() => checker.inFlight.delete(key));
  checker.inFlight.set(key, checking);
  return checking;
}

async function runCheck(checker: SpfChecker, subject: SpfSubject, identity: SpfIdentity) {
  const ttl: TtlNote = {
    min: Infinity,
    note(seconds) {
      if (seconds < this.min) this.min = seconds;
    },
  };
  const check = await checkHost(subject.ip, subject.sender, subject.helo, {
    resolver: checker.dns.withTtl(ttl),
    identity,
    timeoutMs: checker.budgetMs,
    receivingHost: checker.receiver,
  });
  checker.cache.set(subject.ip, subject.sender, subject.helo, check, ttl.min);
  checker.ran?.(check);
  return check;
}

/**
 * The SPF concern's answer for a request that is not exempt (spf-concern.ts decides that): at once when
 * the results are cached (most requests: a sender's next recipients, its next messages), else a promise.
 * The answer at once lets the engine reply within the listener's read, with no deadline armed and no
 * microtask between (docs/decisions.md, "The SPF concern's cached path").
 */
export function checkRequest(
  checker: SpfChecker,
  policy: SpfPolicy,
  subject: SpfSubject,
): ConcernAnswer | Promise<ConcernAnswer> {
  const nullSender = subject.sender === "";
  const wantHelo = policy.heloCheck !== "off" && !nullSender && subject.helo !== "";
  const check = checkIdentity(checker, subject, nullSender ? "helo" : "mailfrom");
  const heloCheck = wantHelo ? checkIdentity(checker, subject, "helo") : undefined;
  if (!(check instanceof Promise) && !(heloCheck instanceof Promise)) {
    return answerOf(checker, policy, subject, check, heloCheck);
  }
  return Promise.all([check, heloCheck]).then(([check, heloCheck]) =>
    answerOf(checker, policy, subject, check, heloCheck)
  );
}

function answerOf(
  checker: SpfChecker,
  policy: SpfPolicy,
  { ip, sender, helo }: SpfSubject,
  check: CachedCheck,
  heloCheck: CachedCheck | undefined,
): ConcernAnswer {
  return spfAnswer({ check, heloCheck, policy, ip, sender, helo, receiver: checker.receiver });
}
