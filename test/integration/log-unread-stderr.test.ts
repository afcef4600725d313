// The daemon's log to a reader that stops reading (journald hung, a `| less` left open): the lines the pipe
// does not take must not pile up in the daemon without end (src/stderr-lines.ts). The daemon runs under Bun,
// as the package runs it, whichever runtime runs the test: Bun kept such lines in the process (Deno's write
// blocks until the reader reads, so its daemon would stop answering here, a limit docs/architecture.md
// "Bounds" states).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { WAITING_MAX_BYTES } from "../../src/stderr-lines.ts";
import { waitFor, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { bunCommand } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("the daemon's log while nothing reads its stderr", () => {
  let dir: TempDir;
  before(() => dir = makeTempDir());
  after(() => dir?.remove());

  it("answers on, keeps at most the bound waiting, and says how many lines it dropped", async () => {
    const config = writeTestConfig(dir, "policy_listen = none\n"); // log_level = debug: a line a request
    const go = dir.file("go");
    const log = dir.file("log");
    const [command, ...args] = bunCommand(["run", "--config", config]);
    // The reader: reads nothing until `go` exists, then everything, into `log`.
    const reader = `while [ ! -e '${go}' ]; do sleep 0.05; done; cat > '${log}'`;
    const shell = spawn("sh", ["-c", `"$@" 2>&1 >/dev/null | { ${reader}; }`, "sh", command, ...args], {
      stdio: "ignore",
    });
    const closed = once(shell, "close");
    const pidfile = dir.file("mailpolicyd.pid");
    await waitFor(() => existsSync(dir.file("policy.sock")) && existsSync(pidfile), 15_000, "the daemon");
    // Each request's debug line is about 600 bytes: together several times the pipe (64 KiB) and the bound.
    const pad = "x".repeat(200);
    const requests = Math.ceil((4 * WAITING_MAX_BYTES) / 600);
    for (let i = 0; i < requests; i++) {
      const reply = await askPolicy(
        dir.file("policy.sock"),
        `rcpt sender=s${i}${pad}@example.org recipient=r${pad}@example.net\n`,
      );
      assert.doesNotMatch(reply, /^error/, `request ${i}`);
    }
    // The reader reads from now on. Then one more request: its line, or the one saying what was dropped (the
    // marker's own line may be dropped with the others), says the reader has caught up.
    writeFileSync(go, "");
    await askPolicy(
      dir.file("policy.sock"),
      "rcpt sender=marker@example.org recipient=r@example.net\n",
    );
    await waitFor(
      () => existsSync(log) && /sender=marker@example\.org|log lines dropped/.test(readFileSync(log, "utf8")),
      15_000,
      "the reader to catch up",
    );
    const daemonPid = Number(readFileSync(pidfile, "utf8").trim());
    assert.ok(daemonPid > 0, `a PID in ${pidfile}`); // kill(0) would end this test's own process group
    process.kill(daemonPid, "SIGTERM");
    await closed;
    const text = readFileSync(log, "utf8");
    const dropped = Number(
      /warn log: log lines dropped: stderr was not read fast enough dropped=(\d+)/.exec(text)?.[1],
    );
    const written = text.split("\n").filter((line) => line.includes("debug policy: request")).length;
    assert.ok(
      dropped > 0,
      text.split("\n").filter((line) => !line.includes("debug policy: request")).join("\n"),
    );
    assert.ok(written + dropped >= requests, "every request's line written or counted as dropped");
    assert.ok(written * 600 < 2 * WAITING_MAX_BYTES, `${written} request lines kept`);
    assert.match(text, /info daemon: stopped\n$/, "the stop's lines come last");
    assert.deepEqual(
      text.split("\n").filter((line) => line !== "" && !/^\d{4}-/.test(line)),
      [],
      "whole lines",
    );
  });
});
