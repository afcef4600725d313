// The engine's failure answer with real mail: an in-process daemon whose counters actor never answers one
// sender (stall@test), behind a real Exim (exim -bd, the plain snippet over TCP, swaks, a maildir). With
// [limits] fail_mode = open the mail is delivered intact after [limits] timeout; with closed it is
// deferred at RCPT. Either way the incident is logged once and shows in /health until the concern answers.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import {
  type EximDaemon,
  maildirDelivery,
  prepareEximDir,
  startEximDaemon,
  swaksAsync,
  writeEximConfig,
} from "../helpers/exim.ts";
import { faultyCounters, STALL_KEY } from "../helpers/faulty-counters.ts";
import { httpGet } from "../helpers/http-get.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("a concern that hangs: its fail_mode answer, with real mail through Exim", () => {
  let dir: TempDir;
  let daemon: Daemon;
  let exim: EximDaemon;
  const lines: string[] = [];
  const configFor = (failMode: "open" | "closed", policyPort: number): Config => {
    const parsed = parseConfig(
      `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npidfile = d.pid\n` +
        `state_file = state.json\npolicy_listen = 127.0.0.1:${policyPort}\n` +
        `[limits]\ntimeout = 300ms\nfail_mode = ${failMode}\n` +
        `[limit out]\ncount = 100\ntime = 1h\n`,
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    return parsed.config;
  };
  let policyPort = 0;
  const delivered = () => {
    const path = dir.file("maildir/new");
    return existsSync(path) ? readdirSync(path).map((name) => readFileSync(`${path}/${name}`, "utf8")) : [];
  };
  const health = async () => {
    const response = await httpGet({ socketPath: dir.file("control.sock"), path: "/health" });
    return { status: response.status, body: JSON.parse(response.body) };
  };

  before(async () => {
    dir = makeTempDir();
    prepareEximDir(dir);
    policyPort = await freePort();
    daemon = startDaemon({
      config: configFor("open", policyPort),
      log: createLogger("info", (line) => lines.push(line)),
      overrides: { counters: faultyCounters },
    });
    await waitFor(() => lines.some((line) => line.includes("policy: listening")), 5000, "listener");
    const eximPort = await freePort();
    const config = writeEximConfig(dir, {
      address: `inet:127.0.0.1:${policyPort}`,
      mainExtra: "local_interfaces = <; 127.0.0.1\nnever_users = root\n",
      siteRcptAcl: "  accept domains = +local_domains\n  deny message = relay not permitted\n",
      ...maildirDelivery(dir),
    });
    exim = await startEximDaemon(dir, config, eximPort);
  });
  after(async () => {
    await exim?.stop();
    daemon?.stop();
    dir?.remove();
  });

  it("answers the limits in the same turn: no deadline is armed for an in-process concern", () => {
    let answered = false;
    daemon.engine.decide({ form: "legacy", key: "quick@example.org" }, () => answered = true);
    assert.equal(answered, true);
  });

  it("fail_mode open: the stalled sender's mail is delivered intact after the timeout; one warning", async () => {
    const before = lines.length;
    const sent = await swaksAsync(
      exim.port,
      STALL_KEY,
      "user@example.net",
      "through a stalled concern",
      "body line 1",
    );
    assert.equal(sent.status, 0, sent.output);
    await waitFor(() => delivered().length === 1, 10_000, "delivery");
    const [mail] = delivered();
    assert.match(mail, /^Subject: through a stalled concern$/m);
    assert.match(mail, /\nbody line 1\n/);
    // RCPT and DATA both asked and both timed out: one incident, one line.
    const warnings = lines.slice(before).filter((line) => / warn engine: concern limits /.test(line));
    assert.equal(warnings.length, 1, lines.slice(before).join("\n"));
    assert.match(
      warnings[0],
      /did not answer in time: answering fail-open until it answers .*reason=timeout/,
    );
    const degraded = await health();
    assert.equal(degraded.status, 503);
    assert.equal(degraded.body.concerns.limits.state, "failing");
    assert.equal(degraded.body.concerns.limits.reason, "timeout");
    assert.ok(degraded.body.concerns.limits.failures.timeout >= 1);
  });

  it("the next sender the concern answers ends the incident; /health is ok again", async () => {
    const sent = await swaksAsync(exim.port, "alice@example.org", "user@example.net", "answered again");
    assert.equal(sent.status, 0, sent.output);
    await waitFor(() => delivered().length === 2, 10_000, "delivery");
    assert.ok(lines.some((line) => / info engine: concern limits answers again /.test(line)));
    const ok = await health();
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  it("fail_mode closed (after a reload): the stalled sender is deferred at RCPT, nothing delivered", async () => {
    daemon.reload(configFor("closed", policyPort));
    const sent = await swaksAsync(exim.port, STALL_KEY, "user@example.net", "must not pass");
    assert.notEqual(sent.status, 0, sent.output);
    assert.match(sent.output, /<\*\* 451 .*mail policy service unavailable, try again later/);
    assert.equal(delivered().length, 2, "nothing more delivered");
  });
});
