// An answered request is not kept alive until its concern's timeout: the engine's deadline entries stay
// queued until they reach the head, and one that held the request would keep, for the spamd front, a whole
// message for [spamassassin] timeout after its answer. Measured in a process of its own
// (test/helpers/engine-asks-heap.ts) with a forced collection.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { isDeno, ROOT } from "../../helpers/runtime.ts";

const SCRIPT = `${ROOT}test/helpers/engine-asks-heap.ts`;
const PAYLOAD = 160_000; // bytes of each request's payload in the helper

describe("the policy engine keeps no answered request alive", () => {
  it("an ask answered within its timeout costs far less than its request", () => {
    const argv = isDeno ? ["run", "-A", "--v8-flags=--expose-gc", SCRIPT] : [SCRIPT];
    const run = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    const { asks, bytesPerAsk } = JSON.parse(run.stdout.trim());
    assert.equal(asks, 200);
    assert.ok(bytesPerAsk < PAYLOAD / 10, `each answered ask still holds ${Math.round(bytesPerAsk)} bytes`);
  });
});
