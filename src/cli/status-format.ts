// Text for `mailpolicyd status`, `top` and `show`: plain aligned columns, as a postmaster reads them
// in a terminal at 3 a.m. Pure: JSON from the control API in, text out.
import type { SenderDetail, SenderRow } from "../policy/sender-report.ts";
import { printable } from "../policy/printable.ts";
import type { ConcernHealth } from "../engine/concern-health.ts";
import type { RedisHealth } from "../limits/shared-store.ts";
import type { StateWrites } from "../actors/counters-state.ts";
import { alertStatusText } from "../control/alert-status-text.ts";
import { THIS_HOST_ONLY_LINE } from "../control/counts-scope.ts";
import { healthLines } from "../control/health-lines.ts";

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
  /** What is wrong, as the lines above say it (control/health-lines.ts): the dashboard's; status makes its own. */
  warnings?: string[];
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

export function formatStatus(status: StatusJson): string {
  const restarts = Object.values(status.restarts).reduce((a, b) => a + b, 0);
  const actions = Object.entries(status.requests.byAction).map(([action, n]) => `${action} ${n}`).join(", ");
  const lines = [
    `mailpolicyd ${status.version}, pid ${status.pid}, up ${status.uptime}, config ${status.config}`,
    `actors: ${
      Object.entries(status.actors).map(([name, s]) => `${name} ${s}`).join(", ")
    }; restarts: ${restarts}`,
    ...healthLines(status),
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
