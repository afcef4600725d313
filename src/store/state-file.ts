// The state file: counters and undelivered alerts, so a restart neither forgets a spammer's count nor
// mails the same alert twice. Written to a temporary file, fsynced, then renamed over the old one.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { AlertNotice } from "../policy/alert-notice.ts";
import type { AlertState, SenderCounter } from "../policy/sender-counter.ts";

const FORMAT = "mailpolicyd-state";
const VERSION = 1;

// [key, start, count, last, alert, subjects?, clientIps?]
type CounterRow = [string, number, number, number, AlertState, [string, number][]?, [string, number][]?];

export interface PersistedState {
  savedAt: number;
  tables: Map<string, Map<string, SenderCounter>>;
  outbox: AlertNotice[];
}

export function serializeState(state: PersistedState): string {
  const limits: Record<string, CounterRow[]> = {};
  for (const [name, table] of state.tables) {
    const rows: CounterRow[] = [];
    for (const [key, c] of table) {
      const row: CounterRow = [key, c.start, c.count, c.last, c.alert];
      if (c.seen) row.push([...(c.seen.subjects ?? [])], [...(c.seen.clientIps ?? [])]);
      rows.push(row);
    }
    limits[name] = rows;
  }
  return JSON.stringify({
    format: FORMAT,
    version: VERSION,
    savedAt: state.savedAt,
    limits,
    outbox: state.outbox,
  });
}

export function parseState(text: string): PersistedState {
  const data = JSON.parse(text);
  if (data?.format !== FORMAT || data.version !== VERSION) {
    throw new Error(`not a ${FORMAT} v${VERSION} file`);
  }
  const tables = new Map<string, Map<string, SenderCounter>>();
  for (const [name, rows] of Object.entries(data.limits ?? {}) as [string, CounterRow[]][]) {
    const table = new Map<string, SenderCounter>();
    for (const [key, start, count, last, alert, subjects, clientIps] of rows) {
      if (typeof key !== "string" || !Number.isFinite(start) || !Number.isFinite(count)) {
        throw new Error(`bad counter row in limit ${name}`);
      }
      const counter: SenderCounter = { start, count, last, alert };
      if (subjects || clientIps) {
        counter.seen = { subjects: new Map(subjects), clientIps: new Map(clientIps) };
      }
      table.set(key, counter);
    }
    tables.set(name, table);
  }
  const outbox = Array.isArray(data.outbox) ? data.outbox as AlertNotice[] : [];
  return { savedAt: Number(data.savedAt) || 0, tables, outbox };
}

export function writeStateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w", 0o640);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  // The rename itself lives in the directory: sync it too, or a power cut can bring the old file back.
  const directory = openSync(dirname(path), "r");
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}

/** The file's text, or undefined when there is none yet. Other read errors are thrown. */
export function readStateFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
