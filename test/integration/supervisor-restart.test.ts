// A failing actor never takes the daemon down: the counters actor throws on one request, the listener
// still answers it (fail-open), the supervisor restarts the actor, and counting carries on from the
// state the failed actor wrote.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { askMany, askPolicy } from "../helpers/policy-client.ts";
import { faultyCounters } from "../helpers/faulty-counters.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("supervisor restarts a failed actor (in-process daemon)", () => {
  let dir: TempDir;
  let daemon: Daemon;
  const lines: string[] = [];

  before(() => {
    dir = makeTempDir();
    const parsed = parseConfig(
      `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npidfile = d.pid\nstate_file = state.json\n` +
        `[thresholds]\ntime = 300\ncount = 3\n`,
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok);
    daemon = startDaemon({
      config: parsed.config,
      log: createLogger("debug", (line) => lines.push(line)),
      overrides: { counters: faultyCounters },
      restartMinMs: 300,
    });
  });
  after(() => {
    daemon.stop();
    dir.remove();
  });

  it("answers through the failure and counts on after the restart", async () => {
    const socket = dir.file("policy.sock");
    await waitFor(() => lines.some((line) => line.includes("policy: listening")), 5000, "listener");
    assert.deepEqual(await askMany(socket, "victim@example.org\n", 2), ["no", "no"]);

    // The fault: the request is still answered, with the fail-open verdict.
    assert.equal(await askPolicy(socket, "crash@test\n"), "no");
    await waitFor(
      () => lines.some((line) => line.includes("actor restarted actor=counters")),
      5000,
      "restart",
    );
    assert.ok(
      lines.some((line) =>
        /error supervisor: actor failed, restarting actor=counters error="injected fault"/.test(line)
      ),
    );
    await waitFor(() => daemon.actorStates().counters === "active", 5000, "counters active again");

    // Count continues: the failed actor wrote its state and the new one read it back.
    assert.deepEqual(await askMany(socket, "victim@example.org\n", 2), ["no", "yes"]);
    assert.deepEqual(daemon.actorStates(), {
      counters: "active",
      alerter: "active",
      policy: "active",
      control: "active",
    });
  });

  it("answers with the fail_mode verdict while the counters actor is down", async () => {
    const socket = dir.file("policy.sock");
    const before = lines.length; // the test above had its own incident
    const failuresBefore = daemon.engine.health().limits.failures;
    assert.equal(
      await askPolicy(socket, "victim@example.org\n"),
      "yes",
      "over the limit while counters is up",
    );
    assert.equal(await askPolicy(socket, "crash@test\n"), "no");
    // During the restart backoff (300 ms and more) nobody counts: fail-open says "no" even for victim@.
    assert.equal(await askPolicy(socket, "victim@example.org\n"), "no");
    // One warning for the incident (the crash, then the restart backoff), not one per request.
    const incident = lines.slice(before).filter((line) => / warn engine: concern limits /.test(line));
    assert.equal(incident.length, 1, incident.join("\n"));
    assert.match(incident[0], /concern limits failed on a request: answering fail-open until it answers/);
    assert.equal(daemon.engine.health().limits.state, "failing");
    await waitFor(() => daemon.actorStates().counters === "active", 5000, "counters active again");
    assert.equal(await askPolicy(socket, "victim@example.org\n"), "yes", "counting resumed");
    // The incident ends with the first answer, and says how many requests its fail_mode answered.
    assert.ok(
      lines.slice(before).some((line) =>
        / info engine: concern limits answers again .*failed_requests=2 /.test(line)
      ),
      lines.filter((line) => / engine: /.test(line)).join("\n"),
    );
    assert.equal(daemon.engine.health().limits.state, "ok");
    const failures = daemon.engine.health().limits.failures;
    assert.equal(failures.error - failuresBefore.error, 1, "the request that crashed it");
    assert.equal(failures.down - failuresBefore.down, 1, "the request during the restart backoff");
  });
});
