// `state_file.in-doubt`: the merge calls into Redis whose answer was lost (limits/merges-in-doubt.ts), so
// that a restart does not forget them. The state file holds the counters those calls went back into; merged
// again whole after a restart, a call Redis had run was added twice. With this file the first merge after the
// restart sends each call again with its token (Redis adds it once) and then only what was counted since.
// The calls are one Redis's (its tokens are recorded there): the file names the server, database and prefix,
// and a start with another [redis] leaves the calls. Written whole (atomically, as the state file) after each
// merge, export or move and at stop; removed when none is left. Counters as the state file's rows.
import { unlinkSync } from "node:fs";
import type { MergeInDoubt } from "../limits/merges-in-doubt.ts";
import { JsonBytes } from "./json-bytes.ts";
import { readStateFile, writeCounter, writeStateFile } from "./state-file.ts";
import { counterFromRow, MAX_FUTURE_MS } from "./state-rows.ts";

const FORMAT = "mailpolicyd-merges-in-doubt";
const VERSION = 1;

export const doubtsPath = (stateFile: string) => `${stateFile}.in-doubt`;

/** Which counters the calls are of: one Redis (as addressed), database and prefix. */
export interface CountersPlace {
  host?: string;
  port?: number;
  path?: string;
  database: number;
  prefix: string;
}

/** Writes the calls and where they went, or removes the file when there are none (or no Redis for them). */
export function writeDoubtsFile(
  path: string,
  place: CountersPlace | undefined,
  doubts: readonly MergeInDoubt[],
): void {
  if (place === undefined || doubts.length === 0) {
    try {
      return unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      return;
    }
  }
  const out = new JsonBytes();
  out.raw(`{"format":"${FORMAT}","version":${VERSION},"redis":`).value({
    host: place.host,
    port: place.port,
    path: place.path,
    database: place.database,
    prefix: place.prefix,
  }).raw(`,"calls":[`);
  doubts.forEach((doubt, i) => {
    if (i > 0) out.raw(",");
    out.raw("[").string(doubt.limit).raw(",").string(doubt.token).raw(",");
    writeCounter(out, doubt.key, doubt.sent);
    out.raw(",");
    writeCounter(out, doubt.key, doubt.taken);
    out.raw("]");
  });
  out.raw("]}");
  writeStateFile(path, new TextDecoder().decode(out.bytes()));
}

/** The calls in the file and where they went (undefined: no file); a call that is not one is left out. */
export function readDoubtsFile(
  path: string,
  now: number,
): { place: CountersPlace; doubts: MergeInDoubt[] } | undefined {
  const text = readStateFile(path);
  if (text === undefined) return undefined;
  const data = JSON.parse(text);
  const redis = data?.redis;
  if (
    data?.format !== FORMAT || data.version !== VERSION || !Array.isArray(data.calls) ||
    typeof redis?.database !== "number" || typeof redis.prefix !== "string"
  ) {
    throw new Error(`not a ${FORMAT} v${VERSION} file`);
  }
  const place: CountersPlace = { database: redis.database, prefix: redis.prefix };
  if (typeof redis.host === "string") place.host = redis.host;
  if (typeof redis.port === "number") place.port = redis.port;
  if (typeof redis.path === "string") place.path = redis.path;
  const doubts: MergeInDoubt[] = [];
  for (const call of data.calls as unknown[]) {
    if (!Array.isArray(call) || call.length !== 4) continue;
    const [limit, token, sentRow, takenRow] = call;
    const sent = counterFromRow(sentRow, now + MAX_FUTURE_MS);
    const taken = counterFromRow(takenRow, now + MAX_FUTURE_MS);
    if (typeof limit !== "string" || typeof token !== "string" || typeof sent === "string") continue;
    if (typeof taken === "string" || (sentRow as [string])[0] !== (takenRow as [string])[0]) continue;
    doubts.push({ limit, key: (sentRow as [string])[0], token, sent, taken });
  }
  return { place, doubts };
}
