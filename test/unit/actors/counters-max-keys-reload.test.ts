// max_keys lowered by a reload below the keys held, as a postmaster does when the daemon's memory grows
// too large (docs/configuration.md: "A reload applies ... max_keys"). The keys held stayed: each new key
// took the place of one old key, so the table kept its size, and its memory, until the windows ended (up
// to 30 days). The keys that may give way (under their limit, not alerted) now go down to the bound.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createActor } from "xstate";
import { countersActor, type CountersStats } from "../../../src/actors/counters.ts";
import { parseConfig } from "../../../src/config/load.ts";
import type { Config } from "../../../src/config/types.ts";
import { createLogger } from "../../../src/log.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";
import type { Verdict } from "../../../src/policy/verdict.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

describe("counters actor: a reload that lowers max_keys", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  const config = (maxKeys: number): Config => {
    const parsed = parseConfig(
      `[daemon]\nstate_file = state.json\nmax_keys = ${maxKeys}\n[limit out]\nkey = sender\ncount = 2\ntime = 1h\n`,
      "t",
      dir.path,
    );
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("; "));
    return parsed.config;
  };

  it("brings the keys held down to the new bound, keeping the keys over their limit", async () => {
    let clock = 1_000_000;
    const lines: string[] = [];
    const actor = createActor(countersActor, {
      input: {
        config: config(10_000),
        log: createLogger("info", (line) => lines.push(line)),
        now: () => clock,
      },
    });
    actor.start();
    const hit = (sender: string) =>
      new Promise<Verdict | undefined>((resolve) =>
        actor.send({
          type: "hit",
          request: { form: "attributes", stage: "rcpt", attributes: { sender } } as PolicyRequest,
          reply: resolve,
        })
      );
    const stats = () =>
      new Promise<CountersStats>((resolve) => actor.send({ type: "stats", reply: resolve }));
    for (let i = 0; i < 10; i++) for (let n = 0; n < 3; n++) await hit(`spammer${i}@x.org`);
    for (let i = 0; i < 5000; i++) {
      clock++;
      await hit(`quiet${i}@x.org`);
    }
    assert.equal((await stats()).trackedKeys, 5010);

    actor.send({ type: "config", config: config(1000) });
    for (let i = 0; i < 40 && (await stats()).trackedKeys > 1000; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal((await stats()).trackedKeys, 1000, "down to the new max_keys within 4 s");
    for (let i = 0; i < 10; i++) {
      assert.equal((await hit(`spammer${i}@x.org`))?.action, "defer", "a key over its limit stays");
    }
    assert.ok(lines.some((line) => /max_keys reached/.test(line)), lines.join("\n"));
    // A new key still finds room (one that may go gives way), and the bound holds.
    assert.equal((await hit("new@x.org"))?.action, "accept");
    assert.equal((await stats()).trackedKeys, 1000);
    actor.stop();
  });
});
