// The shipped monit check (packaging/monit/mailpolicyd) sends its probe to the policy socket every cycle
// and restarts the daemon when the answer does not match its `expect`. A limit at `stage = connect` keyed
// on client_address counts the probe's 127.0.0.1 like any client: once over that limit the daemon answers
// the probe with the limit's action, and a probe that expected only `action=accept` restarted a healthy
// daemon every cycle (its counters survive the restart) until monit gave up watching it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askMany } from "../helpers/policy-client.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

const MONIT = readFileSync(new URL("../../packaging/monit/mailpolicyd", import.meta.url), "utf8");
const PROBE = /unixsocket (\S+)\s+send "([^"]*)"\s+expect "([^"]*)"/.exec(MONIT);

describe("the shipped monit check's policy-socket probe", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("is on the default policy socket", () => {
    assert.ok(PROBE, MONIT);
    assert.equal(PROBE[1], "/run/mailpolicyd/policy.sock");
  });

  it("passes on a healthy daemon whose connect-stage limit has counted the probe past its count", async () => {
    const config = writeTestConfig(
      dir,
      "[limit connections]\nkey = client_address\nstage = connect\ncount = 2\ntime = 1h\nalert = no\n",
    );
    const daemon = await startDaemonProcess(dir, config);
    try {
      const send = PROBE![2].replaceAll("\\n", "\n");
      // monit's expect is a POSIX extended regular expression matched against the answer.
      const expect = new RegExp(PROBE![3]);
      const replies = await askMany(daemon.policySocket, send, 4);
      assert.match(replies[3], /^action=defer /, "the limit refuses the probe's client by now");
      for (const reply of replies) assert.match(reply, expect);
      // What a daemon that does not answer the policy protocol would say does not pass.
      assert.doesNotMatch("", expect);
      assert.doesNotMatch("HTTP/1.1 400 Bad Request", expect);
    } finally {
      await daemon.stopCleanly();
    }
  });
});
