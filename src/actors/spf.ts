// The SPF actor: owns the caching DNS client and the result cache, and answers the SPF concern's
// "check" messages (engine/spf-concern.ts) with spf/request-check.ts. Rebuilt caches on a reload that
// changes the DNS settings; counts results for /metrics.
import { hostname } from "node:os";
import type { Config } from "../config/types.ts";
import type { Metrics } from "../control/metrics.ts";
import { CachingResolver } from "../dns/resolver.ts";
import { processDescriptorPlan, rateLimitedWarning } from "../listeners/connection-bound.ts";
import type { DnsServerHealth } from "../dns/server-health.ts";
import type { Logger } from "../log.ts";
import type { ConcernAnswer } from "../model/answer.ts";
import type { SpfConfig } from "../model/spf.ts";
import type { PolicyRequest } from "../policy/request.ts";
import { checkRequest, type SpfChecker } from "../spf/request-check.ts";
import { SpfResultCache } from "../spf/result-cache.ts";
import { defineActor } from "./actor.ts";

export interface SpfInput {
  config: Config;
  log: Logger;
  metrics: Metrics;
}

export type SpfEvent =
  | { type: "check"; request: PolicyRequest; reply: (answer: ConcernAnswer | undefined) => void }
  | { type: "config"; config: Config };

/**
 * checkHost's budget: [spf] time_budget, but at most nine tenths of [spf] timeout, so that slow DNS ends
 * in the temperror action the postmaster chose before the engine gives up on the concern (fail_mode).
 */
export function checkBudgetMs(config: Config, spf: SpfConfig): number {
  return Math.min(spf.timeBudgetMs, Math.floor(config.concerns.spf.timeoutMs * 0.9));
}

export const spfActor = defineActor<SpfInput, SpfEvent>(({ input }) => {
  const { log, metrics } = input;
  let config = input.config;
  let checker: SpfChecker | undefined;
  let built = "";
  let builtFrom: SpfConfig["dns"] | undefined;
  const receiver = hostname();
  // A lookup refused because DNS's share of the open-file limit is in use (descriptor-plan.ts): its check
  // ends in temperror; said at most once per interval with the number refused, counted in /metrics.
  const dnsBusy = rateLimitedWarning(
    log,
    "spf",
    "too many DNS queries in flight: refusing new ones, their checks end in temperror",
    "refused",
  );

  /** The checker for these settings: the caches survive a reload that leaves the DNS settings alone. */
  const checkerFor = (spf: SpfConfig): SpfChecker => {
    // The same settings object as last time (every request until a reload): nothing to compare.
    if (checker !== undefined && spf.dns === builtFrom) return checker;
    builtFrom = spf.dns;
    const settings = JSON.stringify(spf.dns);
    if (checker === undefined || settings !== built) {
      const dns = new CachingResolver({
        servers: spf.dns.servers === undefined ? undefined : [...spf.dns.servers],
        timeoutMs: spf.dns.timeoutMs,
        tries: spf.dns.tries,
        cacheMinTtl: spf.dns.cacheMinTtl,
        cacheMaxTtl: spf.dns.cacheMaxTtl,
        cacheMaxEntries: spf.dns.cacheMaxEntries,
        // Within the sockets the process keeps for DNS, so that no query fails with EMFILE (descriptor-plan.ts).
        maxInFlight: processDescriptorPlan().dnsInFlight,
        onBusy: () => dnsBusy({ max_in_flight: processDescriptorPlan().dnsInFlight }),
        onHealthChange: (health, was) => dnsHealthChanged(health, was, spf.dns.servers),
        // The others answer, so health stays "answering": without this line a dead server went unsaid.
        onServerHeld: (server, error) =>
          log.warn("spf", "DNS server gave no reply: asking the others first for a minute", {
            server,
            error,
          }),
      });
      const cache = new SpfResultCache({
        maxEntries: spf.dns.resultCacheEntries,
        maxTtl: spf.dns.cacheMaxTtl,
      });
      checker = { dns, cache, inFlight: new Map(), budgetMs: 0, receiver };
      built = settings;
      metrics.spfStats = () => ({ dns: dns.stats(), results: cache });
    }
    checker.budgetMs = checkBudgetMs(config, spf);
    return checker;
  };

  // One line when the servers stop answering and one when they answer again, as the engine logs a concern's
  // incident: meanwhile every check that must ask DNS ends in temperror, which the concern answers itself.
  const dnsHealthChanged = (health: DnsServerHealth, was: DnsServerHealth, servers?: readonly string[]) => {
    const asked = servers?.join(", ") ?? "resolv.conf";
    if (health.state === "not answering") {
      log.warn("spf", "DNS not answering: SPF checks that ask it end in temperror until it answers", {
        servers: asked,
        error: health.lastError,
        failed_lookups: health.failedLookups,
      });
    } else {
      log.info("spf", "DNS answers again", {
        servers: asked,
        failed_lookups: was.failedLookups,
        seconds: Math.round((Date.now() - was.since!) / 1000),
      });
    }
  };

  const check = (request: PolicyRequest, reply: (answer: ConcernAnswer | undefined) => void) => {
    const spf = config.spf;
    if (spf === undefined || request.form !== "attributes") return reply({ action: "accept" });
    const { client_address = "", sender = "", helo_name = "" } = request.attributes;
    let current: SpfChecker;
    try {
      current = checkerFor(spf);
    } catch (error) {
      return failed(error, reply);
    }
    let answer: ConcernAnswer | Promise<ConcernAnswer>;
    try {
      answer = checkRequest(current, spf, { ip: client_address, sender, helo: helo_name });
    } catch (error) {
      return failed(error, reply);
    }
    if (answer instanceof Promise) {
      answer.then((answer) => answered(answer, reply), (error) => failed(error, reply));
    } else answered(answer, reply);
  };

  const answered = (answer: ConcernAnswer, reply: (answer: ConcernAnswer) => void) => {
    const result = answer.fields![0][1] as string;
    metrics.spfResults.set(result, (metrics.spfResults.get(result) ?? 0) + 1);
    reply(answer);
  };

  // A request the checker cannot take (a client address that is not one; resolv.conf without a nameserver
  // is not one of them: 127.0.0.1:53 is asked then, as the C library does, dns/resolv-conf.ts):
  // the engine answers it with [spf] fail_mode and logs the incident; the cause is logged when it changes.
  let lastProblem = "";
  const failed = (error: unknown, reply: (answer: undefined) => void) => {
    const problem = (error as Error).message;
    if (problem !== lastProblem) log.warn("spf", "cannot check", { error: problem });
    lastProblem = problem;
    reply(undefined);
  };

  return {
    receive(event) {
      if (event.type === "config") config = event.config;
      else check(event.request, event.reply);
    },
    stop() {
      metrics.spfStats = undefined;
    },
  };
});
