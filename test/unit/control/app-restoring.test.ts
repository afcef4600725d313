// The control API just after a start, while the counters actor restores a large state file in slices (real
// actor, real state file): `show KEY` of a key not back in memory yet said "no counter for KEY" (exit 1),
// which reads as "unblocked", and `status` did not say the counts were incomplete.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { createActor } from "xstate";
import { countersActor } from "../../../src/actors/counters.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { type ControlDeps, createControlApp } from "../../../src/control/app.ts";
import { createMetrics } from "../../../src/control/metrics.ts";
import { createLogger } from "../../../src/log.ts";
import { formatStatus } from "../../../src/cli/status-format.ts";
import { stateText } from "../../helpers/state-text.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const NOW = 1_780_000_000_000;
const KEYS = 100_000;

describe("control API while the state file is restored", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("show of a key not restored yet: 503 'being restored'; reset: done; status says RESTORING", async () => {
    const rows = [];
    for (let i = 0; i < KEYS; i++) rows.push([`k${i}@x`, NOW - 1000, 5, NOW - 1000, 0]);
    writeFileSync(dir.file("state.json"), stateText(rows, NOW));
    const parsed = parseConfig(
      `[daemon]\nstate_file = state.json\n[thresholds]\ntime = 1h\ncount = 1000000\n`,
      "t",
      dir.path,
    );
    assert.ok(parsed.ok);
    const lines: string[] = [];
    const counters = createActor(countersActor, {
      input: {
        config: parsed.config,
        log: createLogger("debug", (line) => lines.push(line)),
        now: () => NOW,
      },
    });
    counters.start();
    try {
      const askCounters = ((event: object) =>
        new Promise((reply) =>
          counters.send({ ...event, reply } as never)
        )) as ControlDeps["askCounters"];
      const app = createControlApp({
        version: "t",
        configFile: () => "t",
        ruleNames: () => ["thresholds"],
        metrics: createMetrics(NOW),
        actorStates: () => ({ counters: "active" }),
        actorRestarts: () => ({ counters: 0 }),
        concernHealth: () => ({}),
        askCounters,
        reload: () => ({ ok: true }),
        now: () => NOW,
      });
      // Asked at once: the restore runs in slices after this turn of the event loop (actors/counters-state.ts).
      const [show, status, reset] = await Promise.all([
        app.request("/sender?key=k99999@x"),
        app.request("/status"),
        app.request("/sender?key=k99998@x", { method: "DELETE" }),
      ]);
      assert.equal(
        lines.some((line) => /state restored/.test(line)),
        false,
        "asked before the restore ended",
      );
      assert.equal(show.status, 503);
      assert.match(
        (await show.json()).error,
        /^no counter for k99999@x yet: the state file is being restored \(\d+ keys so far\); ask again/,
      );
      // The reset is done (the restore will not bring the key back): not 404 "no counter for".
      assert.equal(reset.status, 200);
      assert.deepEqual(await reset.json(), { key: "k99998@x", reset: 0, restoring: true });
      const statusJson = await status.json();
      assert.equal(typeof statusJson.restoring?.keysSoFar, "number");
      assert.match(
        formatStatus(statusJson),
        /^state file: RESTORING, \d+ keys back so far: top and show miss/m,
      );

      for (let i = 0; i < 1000 && !lines.some((line) => /state restored/.test(line)); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const restored = await app.request("/sender?key=k99999@x");
      assert.equal(restored.status, 200, "back once restored");
      assert.equal((await restored.json()).limits[0].count, 5);
      assert.equal((await (await app.request("/status")).json()).restoring, undefined);
      assert.equal(
        (await app.request("/sender?key=never@x")).status,
        404,
        "a key never counted: 404 as before",
      );
      assert.equal((await app.request("/sender?key=k99998@x")).status, 404, "the key reset while restoring");
    } finally {
      counters.stop();
    }
  });
});
