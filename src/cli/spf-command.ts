// `mailpolicyd spf IP SENDER [HELO]`: one SPF check as the daemon would make it (the config's DNS
// servers, through the same caching DNS client), printed with the mechanism that matched, the answer the
// [spf] section gives it, and a trace of every DNS query. For a postmaster asking "why was this refused?".
import { hostname } from "node:os";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { CachingResolver, TtlCollector } from "../dns/resolver.ts";
import type { SpfConfig } from "../model/spf.ts";
import { checkHost } from "../spf/check-host.ts";
import { typedAddressProblem } from "../spf/ip-address.ts";
import type { SpfCheck, SpfTraceEntry } from "../spf/types.ts";
import { spfAnswer } from "../spf/verdict.ts";
import { checkBudgetMs } from "../actors/spf.ts";
import { readToolConfig } from "./config-source.ts";
import { printable } from "../policy/printable.ts";

/** Exit statuses: docs/spf.md, "mailpolicyd spf". */
export const SPF_EXIT = { pass: 0, other: 1, temperror: 2, usage: 64, config: 78 } as const;

export interface SpfCommandOptions {
  config: string;
  /** The config file was named with --config: a missing one is an error, not the defaults. */
  configGiven: boolean;
  args: string[];
  write?: (text: string) => void;
}

/** [spf] of the config, or the schema's defaults when it has none (or the default file is absent). */
function spfSettings(options: SpfCommandOptions): { spf: SpfConfig; config: Config } | string {
  const result = readToolConfig(options.config, options.configGiven);
  if (!result.ok) return result.errors.join("\n");
  const spf = result.config.spf ?? (parseConfig("[spf]\n", "(defaults)", process.cwd()) as { config: Config })
    .config.spf!;
  return { spf, config: result.config };
}

export async function spfCommand(options: SpfCommandOptions): Promise<number> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const [ip, sender, helo = ""] = options.args;
  const badIp = options.args.length >= 2 ? typedAddressProblem(ip) : undefined;
  if (options.args.length < 2 || options.args.length > 3 || badIp !== undefined) {
    // A host name for the IP, or the two swapped: say which word is wrong, not only the usage.
    const which = badIp !== undefined ? `${JSON.stringify(ip)} is not an IP address${badIp}: ` : "";
    process.stderr.write(`mailpolicyd spf: ${which}give IP SENDER [HELO] (SENDER '' for the null sender)\n`);
    return SPF_EXIT.usage;
  }
  const settings = spfSettings(options);
  if (typeof settings === "string") {
    process.stderr.write(`${settings}\n`);
    return SPF_EXIT.config;
  }
  const { spf, config } = settings;
  const resolver = new CachingResolver({
    servers: spf.dns.servers === undefined ? undefined : [...spf.dns.servers],
    timeoutMs: spf.dns.timeoutMs,
    tries: spf.dns.tries,
  });
  const ttl = new TtlCollector();
  const receiver = hostname();
  const started = performance.now();
  const check = await checkHost(ip, sender, helo, {
    resolver: resolver.withTtl(ttl),
    trace: true,
    timeoutMs: checkBudgetMs(config, spf), // the daemon's: slow DNS gives the temperror it would
    receivingHost: receiver,
  });
  const ms = performance.now() - started;
  write(formatSpfCheck(check, { ip, sender, helo, receiver, spf, ms, ttl: ttl.min, servers: resolver }));
  return check.result === "pass" ? SPF_EXIT.pass : check.result === "temperror" ? SPF_EXIT.temperror : 1;
}

interface Shown {
  ip: string;
  sender: string;
  helo: string;
  receiver: string;
  spf: SpfConfig;
  ms: number;
  ttl: number;
  servers: CachingResolver;
}

/** The printed report: result lines, the answer [spf] gives, then the trace. */
export function formatSpfCheck(check: SpfCheck, shown: Shown): string {
  const answer = spfAnswer({ check, policy: shown.spf, ...shown });
  const lines = [
    `result:      ${check.result}`,
    `identity:    ${check.identity} (${check.domain})`,
    `mechanism:   ${check.mechanism ?? "(none matched)"}`,
  ];
  if (check.explanation !== undefined) lines.push(`explanation: ${check.explanation}`);
  if (check.problem !== undefined) lines.push(`problem:     ${check.problem}`);
  lines.push(
    `lookups:     ${check.lookups} DNS terms, ${check.voidLookups} void; ${shown.ms.toFixed(1)} ms; ` +
      `holds for ${Number.isFinite(shown.ttl) ? `${shown.ttl} s` : "ever (no DNS answer used)"}`,
    `answer:      ${answer.action}${answer.message === undefined ? "" : ` "${answer.message}"`}` +
      ` ([spf] ${check.result} = ${shown.spf.actions[check.result]})`,
    ...(answer.headers ?? []).map((header) => `header:      ${header}`),
    `dns:         ${shown.servers.stats().queriesSent} queries sent (${shown.servers.stats().tcpQueries} TCP)`,
    "trace:",
    ...(check.trace ?? []).map((entry) => `  ${traceLine(entry)}`),
  );
  // Written out, not obeyed: the record, its terms and the explanation are the sender domain's owner's
  // text, and the sender and HELO the postmaster's paste from a log (policy/printable.ts).
  return `${lines.map(printable).join("\n")}\n`;
}

function traceLine(entry: SpfTraceEntry): string {
  switch (entry.kind) {
    case "dns":
      return `dns ${entry.type} ${entry.name} → ${
        entry.error ?? (entry.answer.length === 0 ? "(empty)" : entry.answer.map((a) =>
          JSON.stringify(a)
        ).join(" "))
      }`;
    case "record":
      return `record ${entry.domain}: ${entry.record}`;
    case "redirect":
      return `redirect ${entry.domain} → ${entry.target}`;
    case "match":
      return `match ${entry.domain}: ${entry.mechanism} → ${entry.result}`;
    case "error":
      return `error ${entry.domain}: ${entry.result}: ${entry.problem}`;
  }
}
