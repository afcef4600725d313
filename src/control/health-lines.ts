// What `mailpolicyd status` says of the daemon's health besides its actors, a line a thing: the concerns,
// Redis, the state file. Written here once for both readers: the CLI prints every line from /status's
// fields, and /status hands the dashboard the lines of what is wrong (its `warnings`), which it showed
// nowhere: a failing concern or an unwritable state file looked green there. Pure: facts in, text out.
import type { ConcernHealth } from "../engine/concern-health.ts";
import type { RedisHealth } from "../limits/shared-store.ts";
import type { StateWrites } from "../actors/counters-state.ts";
import { printable } from "../policy/printable.ts";

/** /status's fields the lines are made of (each optional: a daemon older than the client lacks some). */
export interface HealthFacts {
  concerns?: Record<string, ConcernHealth>;
  /** With [redis] only. */
  redis?: RedisHealth;
  /** Present only while the state file is being restored after a start. */
  restoring?: { keysSoFar: number };
  stateWrites?: StateWrites;
}

const stamp = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

/** A failing concern's two stories: its fail_mode answering for it, what it asks not answering. */
function failingConcern(name: string, health: ConcernHealth): string {
  const said: string[] = [];
  if (health.reason !== undefined) {
    said.push(
      `FAILING since ${stamp(health.since!)} (${health.reason}), ${health.failedInIncident} ` +
        "requests answered by its fail_mode",
    );
  }
  const impaired = health.impaired;
  if (impaired !== undefined) {
    // SPF's temperror: mail deferred (or accepted unchecked) by the concern's own answer, not its fail_mode.
    said.push(
      `${said.length ? "and" : "FAILING:"} ${printable(impaired.what)} not answering since ` +
        `${stamp(impaired.since)} (${printable(impaired.lastError)}, ${impaired.failed} failed), ` +
        `answering ${printable(impaired.answering)}`,
    );
  }
  return `${name} ${said.join(" ")}`;
}

function concernLines(concerns: Record<string, ConcernHealth>): string[] {
  const said = Object.entries(concerns).map(([name, health]) =>
    health.state === "ok" ? `${name} ok` : failingConcern(name, health)
  );
  return said.length ? [`concerns: ${said.join("; ")}`] : [];
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

/** Just after a start: the keys not restored yet are missing from top and show (they answer once back). */
function restoringLines(restoring: { keysSoFar: number } | undefined): string[] {
  if (restoring === undefined) return [];
  return [
    `state file: RESTORING, ${restoring.keysSoFar} keys back so far: top and show miss the others until done`,
  ];
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

/** Every line, in status's order: the concerns, Redis, the state file's restore, its writes. */
export function healthLines(facts: HealthFacts): string[] {
  return [
    ...concernLines(facts.concerns ?? {}),
    ...redisLines(facts.redis),
    ...restoringLines(facts.restoring),
    ...stateLines(facts.stateWrites),
  ];
}

/**
 * Of those, what is wrong or not done: the failing concerns (alone on their line), Redis down, the state
 * file still being restored or not written. None when all is well.
 */
export function healthWarnings(facts: HealthFacts): string[] {
  const failing = Object.entries(facts.concerns ?? {}).filter(([, health]) => health.state !== "ok");
  return healthLines({
    concerns: Object.fromEntries(failing),
    redis: facts.redis?.state === "down" ? facts.redis : undefined,
    restoring: facts.restoring,
    stateWrites: facts.stateWrites,
  });
}
