// `state_file.exported`: the shared counters a host copied from Redis when it switched back to memory
// (limits/exported-counters.ts), so that a restart before [redis] is added again does not forget them and
// add every shared count into Redis a second time. Written whole (atomically, as the state file) after the
// copy and after each merge that uses some; removed when none is left. Rows as in the state file, sightings
// included (a merge adds only those seen since the copy).
import { unlinkSync } from "node:fs";
import type { SenderCounter } from "../policy/sender-counter.ts";
import { JsonBytes } from "./json-bytes.ts";
import { readStateFile, writeCounter, writeStateFile } from "./state-file.ts";
import { counterFromRow, MAX_FUTURE_MS } from "./state-rows.ts";

const FORMAT = "mailpolicyd-exported";
const VERSION = 1;

export const exportedPath = (stateFile: string) => `${stateFile}.exported`;

export type ExportedTables = ReadonlyMap<string, ReadonlyMap<string, SenderCounter>>;

/** Writes the copies, or removes the file when there are none. */
export function writeExportedFile(path: string, tables: ExportedTables): void {
  let rows = 0;
  const out = new JsonBytes();
  out.raw(`{"format":"${FORMAT}","version":${VERSION},"limits":{`);
  let firstTable = true;
  for (const [name, table] of tables) {
    if (table.size === 0) continue;
    if (!firstTable) out.raw(",");
    firstTable = false;
    out.string(name).raw(":[");
    let first = true;
    for (const [key, counter] of table) {
      if (!first) out.raw(",");
      first = false;
      writeCounter(out, key, counter);
      rows++;
    }
    out.raw("]");
  }
  out.raw("}}");
  if (rows > 0) return writeStateFile(path, new TextDecoder().decode(out.bytes()));
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** The copies in the file (none when there is no file); a row that is not a counter is left out. */
export function readExportedFile(path: string, now: number): Map<string, Map<string, SenderCounter>> {
  const tables = new Map<string, Map<string, SenderCounter>>();
  const text = readStateFile(path);
  if (text === undefined) return tables;
  const data = JSON.parse(text);
  if (data?.format !== FORMAT || data.version !== VERSION || typeof data.limits !== "object") {
    throw new Error(`not a ${FORMAT} v${VERSION} file`);
  }
  for (const [name, rows] of Object.entries(data.limits as Record<string, unknown>)) {
    if (!Array.isArray(rows)) continue;
    const table = new Map<string, SenderCounter>();
    for (const row of rows) {
      const counter = counterFromRow(row, now + MAX_FUTURE_MS);
      if (typeof counter !== "string") table.set((row as [string])[0], counter);
    }
    tables.set(name, table);
  }
  return tables;
}
