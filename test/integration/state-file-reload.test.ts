// A reload that moves state_file to a path `run` would refuse (a directory, a FIFO, a device) is refused
// as an invalid config is: the running state_file stays, and the daemon can still be restarted.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

// What the file says: the reload reads it as it is (a directory there is the config's own error now).
const read = (stateFile: string, dir: string) =>
  parseConfig(
    `[daemon]\npolicy_socket = policy.sock\npolicy_listen = none\nstate_file = ${stateFile}\n` +
      "[thresholds]\ntime = 300\ncount = 10\n",
    "test.conf",
    dir,
  );

const config = (stateFile: string, dir: string) => {
  const parsed = read(stateFile, dir);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed;
};

describe("a reload that moves state_file", () => {
  let dir: TempDir;
  let daemon: Daemon;
  let next = "state.json";
  const lines: string[] = [];

  before(async () => {
    dir = makeTempDir();
    daemon = startDaemon({
      config: config("state.json", dir.path).config,
      log: createLogger("debug", (line) => lines.push(line)),
      loadConfig: () => read(next, dir.path),
    });
    await waitFor(() => lines.some((line) => /state restored/.test(line)), 5000, "the restore");
  });

  after(() => {
    daemon?.stop();
    dir?.remove();
  });

  it("is refused when the new path is a directory, and the running state_file stays", () => {
    mkdirSync(dir.file("a-directory"));
    next = "a-directory";
    const result = daemon.reloadFromSource();
    assert.equal(result.ok, false, lines.join("\n"));
    assert.equal(daemon.config.daemon.stateFile, dir.file("state.json"));
    assert.ok(
      lines.some((line) => /test\.conf:4: daemon\.state_file: .*a-directory is a directory/.test(line)),
      lines.join("\n"),
    );
    assert.ok(lines.some((line) => /reload refused/.test(line)));
  });

  it("is applied when the new path can hold a state file", () => {
    next = "moved/state.json";
    assert.deepEqual(daemon.reloadFromSource(), { ok: true });
    assert.equal(daemon.config.daemon.stateFile, dir.file("moved/state.json"));
  });
});
