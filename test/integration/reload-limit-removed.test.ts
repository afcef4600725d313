// A reload that removes or renames a limit (real daemon process, memory store): the limit's counters on this
// host go, and the log says which limit and how many keys it dropped, as it does when a limit's key changes.
// Put back, the limit counts afresh. Before, the counts went without a word.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { runMain } from "../helpers/runtime.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

const LIMIT_A = "[limit a]\ncount = 3\ntime = 1h\naction = defer\nalert = no\n";
const LIMIT_B = "[limit b]\ncount = 100\ntime = 1h\naction = defer\nalert = no\n";
const rcpt = (sender: string) =>
  `rcpt sender=${sender} recipient=r@example.net client_address=192.0.2.7 instance=${crypto.randomUUID()}\n`;
/** The action word of each answer, one request after the other. */
const ask = async (daemon: DaemonProcess, sender: string, n: number) => {
  const actions: string[] = [];
  for (let i = 0; i < n; i++) {
    actions.push(/^action=(\w+)/.exec(await askPolicy(daemon.policySocket, rcpt(sender)))![1]);
  }
  return actions;
};

describe("a reload that removes a limit", () => {
  const dir = makeTempDir();
  let daemon: DaemonProcess;
  let file: string;
  const reload = async (limits: string) => {
    const mark = daemon.logs().length;
    writeTestConfig(dir, limits);
    const result = runMain(["reload", "--config", file]);
    assert.equal(result.status, 0, result.stderr);
    // The reload's own lines come before its "config reloaded".
    await waitFor(() => daemon.logs().slice(mark).includes("config reloaded"), 10_000, "the reload's log");
    return daemon.logs().slice(mark);
  };

  before(async () => {
    file = writeTestConfig(dir, LIMIT_A + LIMIT_B);
    daemon = await startDaemonProcess(dir, file);
  });
  after(async () => {
    await daemon?.stop();
    dir.remove();
  });

  it("says the limit's counters are dropped, with how many", async () => {
    await ask(daemon, "alice@example.org", 2);
    await ask(daemon, "bob@example.org", 1);
    const lines = await reload(LIMIT_B);
    assert.match(
      lines,
      /warn counters: limit removed: its counters on this host are dropped rule=a dropped=2/,
    );
    assert.doesNotMatch(lines, /rule=b/);
  });

  it("a limit put back counts afresh, and nothing is said of it", async () => {
    const lines = await reload(LIMIT_A + LIMIT_B);
    assert.doesNotMatch(lines, /limit removed/);
    assert.deepEqual(await ask(daemon, "alice@example.org", 4), ["accept", "accept", "accept", "defer"]);
  });

  it("a renamed limit is a removed one", async () => {
    const lines = await reload(LIMIT_A + LIMIT_B.replace("[limit b]", "[limit c]"));
    assert.match(
      lines,
      /warn counters: limit removed: its counters on this host are dropped rule=b dropped=2/,
    );
  });
});
