// Which names a limit's shared counters have. Redis records, for each limit's name, the key it counted by
// when a host first asked (`<prefix>limit-keys`, HSETNX: the first host's wins); a limit counting by that
// key names its counters `<prefix>{<key>}:<limit>`, as every version has, and one counting by another key
// adds the kind, `…:<limit>:<kind>` (redis-keys.ts). So after a `key` change (sender to recipient, say),
// the new key's counters start afresh instead of reading the old kind's (alice@ as a sender had sent 3 of
// 3: as a recipient she would have been deferred), hosts not yet reloaded keep counting the old kind
// together, and a version that knows no kinds names its counters as before: hosts of two versions sharing
// one Redis during an upgrade still count together. docs/decisions.md, "A limit's key in Redis".
import type { Redis } from "ioredis";
import type { LimitConfig } from "../model/limit.ts";
import { limitKeysKey } from "./redis-keys.ts";
import type { Replies } from "./redis-outbox.ts";

type Pipeline = ReturnType<Redis["pipeline"]>;

/** For each limit's name: the key text it counts by and the kind its counters are named with. */
export type CounterKinds = ReadonlyMap<string, { keyText: string; kind: string | undefined }>;

/** The kinds, from the key texts Redis records for `limits` (in order; null: none recorded). Pure. */
export function counterKinds(
  limits: readonly LimitConfig[],
  recorded: readonly (string | null)[],
): CounterKinds {
  return new Map(limits.map((limit, i) => {
    const kind = recorded[i] === null || recorded[i] === limit.keyText ? undefined : limit.keyText;
    return [limit.name, { keyText: limit.keyText, kind }];
  }));
}

/** Whether `kinds` names the counters of every limit of `limits` as it counts now. Pure. */
export const kindsCover = (kinds: CounterKinds, limits: readonly LimitConfig[]) =>
  limits.every((limit) => kinds.get(limit.name)?.keyText === limit.keyText);

/**
 * Records each limit's key where Redis has none for its name yet, and reads back what it has: one pipeline.
 * The record is never removed: one field per limit name a site has ever configured.
 */
export async function learnCounterKinds(
  client: Redis,
  prefix: string,
  limits: readonly LimitConfig[],
  exec: (pipeline: Pipeline) => Promise<Replies>,
): Promise<CounterKinds> {
  if (limits.length === 0) return new Map();
  const registry = limitKeysKey(prefix);
  const pipeline = client.pipeline();
  for (const limit of limits) pipeline.hsetnx(registry, limit.name, limit.keyText);
  pipeline.hmget(registry, ...limits.map((limit) => limit.name));
  const replies = await exec(pipeline);
  for (const [error] of replies) if (error) throw error;
  return counterKinds(limits, replies[limits.length][1] as (string | null)[]);
}
