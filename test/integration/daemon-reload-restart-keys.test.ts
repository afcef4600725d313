// A reload that changes a [daemon] key the daemon applies only at start (the control socket and its TCP
// listener, socket modes and groups, the pidfile, max_connections, request_timeout, state_interval) says
// so in the log, as a reload that changes policy_listen does; and the pidfile removed at the stop is the
// one written at the start, not the one a reload named.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const BASE = `[daemon]\npolicy_socket = policy.sock\nstate_file = state.json\npolicy_listen = none\n`;
const AT_START = "control_socket = control.sock\npidfile = d.pid\n";

describe("a reload that changes a [daemon] key applied only at start", () => {
  let dir: TempDir;
  let daemon: Daemon;
  const lines: string[] = [];

  before(async () => {
    dir = makeTempDir();
    const parsed = parseConfig(BASE + AT_START, "test.conf", dir.path);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("debug", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("control: listening")), 5000, "control socket");
  });

  after(() => {
    daemon?.stop();
    dir?.remove();
  });

  it("logs that each takes effect after a restart, also at a second reload", () => {
    const changed = [
      "control_socket = other-control.sock",
      "control_listen = 127.0.0.1:8025",
      "control_group = nogroup",
      "socket_mode = 0600",
      "socket_group = nogroup",
      "pidfile = other.pid",
      "max_connections = 50",
      "request_timeout = 2s",
      "state_interval = 1m",
    ];
    for (let round = 0; round < 2; round++) {
      lines.length = 0;
      const parsed = parseConfig(BASE + changed.join("\n"), "test.conf", dir.path);
      assert.ok(parsed.ok, JSON.stringify(parsed));
      daemon.reload(parsed.config);
      for (const key of changed.map((line) => line.split(" ")[0])) {
        assert.equal(
          lines.filter((line) => line.includes(`[daemon] ${key} changed: takes effect after a restart`))
            .length,
          1,
          `round ${round + 1}: ${key}\n${lines.join("\n")}`,
        );
      }
    }
  });

  it("policy_listen: said once at every reload that differs from the start", () => {
    for (let round = 0; round < 2; round++) {
      lines.length = 0;
      const parsed = parseConfig(
        BASE.replace("policy_listen = none", "policy_listen = 127.0.0.1:10999") + AT_START,
        "test.conf",
        dir.path,
      );
      assert.ok(parsed.ok, JSON.stringify(parsed));
      daemon.reload(parsed.config);
      assert.equal(
        lines.filter((line) => line.includes("policy_listen changed: takes effect after a restart")).length,
        1,
        `round ${round + 1}\n${lines.join("\n")}`,
      );
    }
  });

  it("removes the pidfile it wrote at the start when it stops", () => {
    assert.ok(existsSync(dir.file("d.pid")));
    const parsed = parseConfig(
      BASE + "control_socket = control.sock\npidfile = other.pid\n",
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon.reload(parsed.config);
    writeFileSync(dir.file("other.pid"), "1\n"); // what the reloaded config names: not this daemon's
    daemon.stop();
    assert.equal(existsSync(dir.file("d.pid")), false, "the pidfile written at the start is removed");
    assert.ok(existsSync(dir.file("other.pid")), "a file the daemon never wrote is left alone");
  });
});
