// Text for `mailpolicyd status`, `top` and `show`: plain aligned columns, as a postmaster reads them
// in a terminal at 3 a.m. Pure: JSON from the control API in, text out.
import type { SenderDetail, SenderRow } from "../policy/sender-report.ts";
import { UNPRINTABLE_CHARS } from "../policy/unprintable-chars.ts";
import type { ConcernHealth } from "../engine/concern-health.ts";
import type { RedisHealth } from "../limits/shared-store.ts";
import type { StateWrites } from "../actors/counters-state.ts";
import { alertStatusText } from "../control/alert-status-text.ts";
import { THIS_HOST_ONLY_LINE } from "../control/counts-scope.ts";

// Controls and bidi controls (policy/unprintable-chars.ts): in a terminal that does bidi a U+202E in a key
// turned the rest of its line round, the count and the rule with it.
const UNPRINTABLE = new RegExp(`[${UNPRINTABLE_CHARS}]`, "g");

/**
 * Text that came from mail (a key is a sender, HELO name or login a client sent; subjects, errors) as a
 * terminal shows it without obeying it: each control character written as \xNN (\uNNNN). Printed as sent,
 * a local client's request to the Postfix listener put ESC sequences in a key, and `top` then retitled,
 * cleared or hid the postmaster's terminal; a line feed forged a line of the report.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, "0")}`
      : `\\x${code.toString(16).padStart(2, "0")}`;
  });
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

// "unsent" from a daemon, anything else unknown to this client from a newer one: shown as it came.
const alertText = (alert: string) => alert === "unsent" ? "not sent" : printable(alert);

function state(row: SenderRow): string {
  const alert = row.alert === "none" ? "" : ` (alert ${alertText(row.alert)})`;
  return `${row.over ? "over" : row.atLimit ? "at limit" : "ok"}${alert}`;
}

export function formatSenders(rows: SenderRow[]): string {
  if (rows.length === 0) return "no sender counted yet";
  return table(
    ["KEY", "RULE", "COUNT/LIMIT", "WINDOW", "ACTION", "STATE"],
    rows.map((row) => [
      printable(row.key),
      row.rule,
      `${row.count}/${row.limit}`,
      row.window,
      row.action,
      state(row),
    ]),
  );
}

export function formatSender(key: string, rows: SenderDetail[]): string {
  const parts = [printable(key)];
  for (const row of rows) {
    parts.push(
      `\n  rule ${row.rule}: ${row.count}/${row.limit} per ${row.window} (${row.algorithm}, ` +
        `action ${row.action}), ${state(row)}`,
      `  window start ${row.windowStart}, last seen ${row.lastSeen}`,
    );
    if (row.subjects.length) {
      parts.push(`  subjects: ${row.subjects.map(([s, n]) => `${n}× ${printable(s)}`).join("; ")}`);
    }
    if (row.clientIps.length) {
      parts.push(`  client IPs: ${row.clientIps.map(([s, n]) => `${n}× ${printable(s)}`).join(", ")}`);
    }
  }
  return parts.join("\n");
}

export interface StatusJson {
  version: string;
  pid: number;
  config: string;
  uptimeSeconds: number;
  uptime: string;
  actors: Record<string, string>;
  restarts: Record<string, number>;
  concerns?: Record<string, ConcernHealth>; // optional: a daemon older than the client does not report them
  requests: { total: number; byAction: Record<string, number>; badRequests: number };
  rates: { lastMinute: number; last5Minutes: number };
  /** With [redis] only (limits/shared-store.ts). */
  redis?: RedisHealth;
  trackedKeys: number | null;
  pendingAlerts: number | null;
  stateWrites?: StateWrites; // optional: a daemon older than the client does not report it
  /** Present only while the state file is being restored after a start. */
  restoring?: { keysSoFar: number };
  alerts: {
    sent: number;
    failed: number;
    parked?: number; // optional: a daemon older than the client does not report them
    dropped?: number;
    recent: AlertRow[];
    parkedRecent?: (AlertRow & { error?: string })[];
  };
  topSenders: SenderRow[] | null;
  /** Why topSenders is null: the counters actor, or Redis, did not answer (absent from older daemons). */
  topSendersUnavailable?: string;
  /**
   * The top senders are this host's counts: Redis was away when they were asked for, or when they came
   * (absent from older daemons, for which Redis's state after the question stands in).
   */
  topSendersThisHostOnly?: boolean;
}

interface AlertRow {
  at: number;
  key: string;
  rule: string;
  count: number;
  limit: number;
  status: string;
}

const alertLine = (alert: AlertRow) =>
  `  ${new Date(alert.at).toISOString().replace("T", " ").slice(0, 19)}  ${
    printable(alert.key)
  }  ${alert.rule}  ` +
  `${alert.count}/${alert.limit}  ${printable(alertStatusText(alert.status))}`;

function concernLines(concerns: Record<string, ConcernHealth>): string[] {
  const said = Object.entries(concerns).map(([name, health]) =>
    health.state === "ok"
      ? `${name} ok`
      : `${name} FAILING since ${
        new Date(health.since!).toISOString().replace("T", " ").slice(0, 19)
      } (${health.reason}), ${health.failedInIncident} requests answered by its fail_mode`
  );
  return said.length ? [`concerns: ${said.join("; ")}`] : [];
}

const stamp = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

/**
 * With [redis] the shared counters are in Redis and this host's memory holds only what it counted while
 * Redis was away: "0" alone read as "nothing is counted" at 3 a.m.
 */
function trackedKeys(status: StatusJson): string {
  const here = status.trackedKeys ?? "?";
  if (status.redis === undefined) return `${here}`;
  return status.redis.state === "down"
    ? `${here} on this host (Redis unreachable)`
    : `${here} on this host, the shared ones in Redis (top, show)`;
}

/** A line only while the counters cannot reach the disk: what a restart would then lose. */
function stateLines(writes: StateWrites | undefined): string[] {
  if (!writes?.failing) return [];
  const saves = writes.failedSaves === 1 ? "1 save" : `${writes.failedSaves} saves`;
  return [
    `state file: NOT WRITTEN since ${stamp(writes.since!)} (${printable(writes.error ?? "?")}; ${saves} ` +
    `failed): counts since then are in memory only, lost at a restart`,
  ];
}

/** Just after a start: the keys not restored yet are missing from top and show (they answer once back). */
function restoringLines(restoring: { keysSoFar: number } | undefined): string[] {
  if (restoring === undefined) return [];
  return [
    `state file: RESTORING, ${restoring.keysSoFar} keys back so far: top and show miss the others until done`,
  ];
}

/** The 3 a.m. line about Redis: up, or since when the fallback answers. */
function redisLines(redis: RedisHealth | undefined): string[] {
  if (redis === undefined) return [];
  if (redis.state === "up") {
    // Answers ahead ([redis] answer_ahead) and the over-grants among them: what the option has cost so far.
    const { answeredAhead, aheadOver } = redis.store;
    const ahead = answeredAhead > 0
      ? `; ${answeredAhead} answered ahead, ${aheadOver} of them over a limit`
      : "";
    return [
      `redis: up since ${stamp(redis.since)}; ${redis.incidents} incidents, ${redis.merged} counters merged` +
      ahead,
    ];
  }
  return [
    `redis: DOWN since ${stamp(redis.since)} (${
      printable(redis.lastError ?? "no answer")
    }); fallback ${redis.fallback} ` +
    `answered ${redis.fallbackChecks} checks`,
  ];
}

export function formatStatus(status: StatusJson): string {
  const restarts = Object.values(status.restarts).reduce((a, b) => a + b, 0);
  const actions = Object.entries(status.requests.byAction).map(([action, n]) => `${action} ${n}`).join(", ");
  const lines = [
    `mailpolicyd ${status.version}, pid ${status.pid}, up ${status.uptime}, config ${status.config}`,
    `actors: ${
      Object.entries(status.actors).map(([name, s]) => `${name} ${s}`).join(", ")
    }; restarts: ${restarts}`,
    ...concernLines(status.concerns ?? {}),
    ...redisLines(status.redis),
    ...restoringLines(status.restoring),
    ...stateLines(status.stateWrites),
    `requests: ${status.requests.total}${actions ? ` (${actions})` : ""}; ` +
    `${status.rates.lastMinute.toFixed(1)}/min last minute, ${
      status.rates.last5Minutes.toFixed(1)
    }/min last 5 minutes`,
    `tracked keys: ${
      trackedKeys(status)
    }; alerts sent ${status.alerts.sent}, failed ${status.alerts.failed}, ` +
    `parked ${status.alerts.parked ?? 0}, dropped ${status.alerts.dropped ?? 0}, ` +
    `pending ${status.pendingAlerts ?? "?"}`,
    "",
    ...(status.topSendersThisHostOnly ?? (status.topSenders && status.redis?.state === "down")
      ? [THIS_HOST_ONLY_LINE]
      : []),
    status.topSenders
      ? formatSenders(status.topSenders)
      : `top senders unavailable (${printable(status.topSendersUnavailable ?? "counters actor down")})`,
  ];
  if (status.alerts.recent.length > 0) {
    lines.push("", "RECENT ALERTS");
    for (const alert of status.alerts.recent) lines.push(alertLine(alert));
  }
  if (status.alerts.parkedRecent?.length) {
    lines.push("", "PARKED ALERTS (given up, not retried)");
    for (const alert of status.alerts.parkedRecent) {
      lines.push(`${alertLine(alert)}  ${printable(alert.error ?? "")}`);
    }
  }
  return lines.join("\n");
}
