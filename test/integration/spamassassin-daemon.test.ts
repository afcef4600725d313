// The SpamAssassin concern in a running daemon (in-process), against a real spamd: the engine's decision
// on a whole message carries spamd's score and tests; a message over max_size is not sent, an mbox copy
// whose envelope lines alone are over it is (through the daemon's spamd front, as Exim asks); with spamd
// stopped the decision is [spamassassin] fail_mode (open: accept without a score; closed: defer), and
// /metrics shows it.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import type { Decision } from "../../src/model/answer.ts";
import type { PolicyRequest } from "../../src/policy/request.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { httpGet } from "../helpers/http-get.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { type Spamd, spamdFixture, startSpamd } from "../helpers/spamd.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";
import { runMainAsync } from "../helpers/runtime.ts";
import { writeFileSync } from "node:fs";

const GTUBE = spamdFixture("gtube.eml");

function configText(spamdPort: number, failMode: "open" | "closed"): string {
  return `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npidfile = d.pid\n` +
    `state_file = state.json\npolicy_listen = none\n` +
    `[spamassassin]\naddress = 127.0.0.1:${spamdPort}\ntimeout = 5s\nfail_mode = ${failMode}\n` +
    `max_size = 2k\nbreaker_failures = 100\n`;
}

const messageRequest = (message: Uint8Array): PolicyRequest => ({
  form: "message",
  envelope: { sender: "a@example.org", recipients: ["b@example.net"], user: "nobody" },
  message,
  size: message.length,
  truncated: false,
});

describe("the SpamAssassin concern in the daemon, against spamd", () => {
  let dir: TempDir;
  let spamd: Spamd;
  let daemon: Daemon;
  let frontPort: number;
  const lines: string[] = [];
  const decide = (request: PolicyRequest) =>
    new Promise<Decision>((resolve) => daemon.engine.decide(request, resolve));
  const config = (failMode: "open" | "closed") => {
    const text = `${configText(spamd.tcp.port, failMode)}[spamd]\nlisten = 127.0.0.1:${frontPort}\n`;
    const parsed = parseConfig(text, "test.conf", dir.path);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    return parsed.config;
  };
  const metricsText = async () =>
    (await httpGet({ socketPath: dir.file("control.sock"), path: "/metrics" })).body;

  before(async () => {
    dir = makeTempDir();
    spamd = await startSpamd();
    frontPort = await freePort();
    daemon = startDaemon({ config: config("open"), log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("control: listening")), 5000, "control");
  });
  after(async () => {
    daemon?.stop();
    await spamd?.stop();
    dir?.remove();
  });

  it("GTUBE: the decision has spamd's score and the GTUBE test", async () => {
    const decision = await decide(messageRequest(GTUBE));
    assert.equal(decision.action, "accept", spamd.log());
    assert.ok(decision.score! >= 1000, `${decision.score}`);
    assert.ok(decision.symbols!.some((symbol) => symbol.name === "GTUBE" && symbol.score === 1000));
    assert.deepEqual(decision.tags, ["spamassassin:spam"]);
  });

  it("a message over max_size: not sent, accept with score 0 and the symbol saying why", async () => {
    const big = new Uint8Array(3000).fill(0x61);
    const decision = await decide(messageRequest(big));
    assert.equal(decision.score, 0);
    assert.deepEqual(decision.symbols!.map((symbol) => symbol.name), ["SPAMASSASSIN_NOT_SCANNED"]);
    assert.match(decision.symbols![0].description!, /3000 bytes over max_size 2048/);
  });

  it("an mbox copy whose envelope lines alone are over max_size: spamd scans the message", async () => {
    // Exim's mbox copy lists every recipient on X-Envelope-To: here 2.7 KB of it, over max_size (2k) before
    // the message's first byte. The concern compared the whole copy with max_size and never asked spamd,
    // where Exim asking spamd itself has it scanned: GTUBE went through with score 0.
    const recipients = Array.from({ length: 80 }, (_, i) => `recipient.number.${i}@example.net`);
    const envelope = "From a@example.org Sun Dec  6 16:00:00 2026\nX-Envelope-From: <a@example.org>\n" +
      `X-Envelope-To: ${recipients.join(", ")}\n`;
    assert.ok(envelope.length > 2048 && GTUBE.length < 2048, `${envelope.length} ${GTUBE.length}`);
    const mbox = Buffer.concat([Buffer.from(envelope), GTUBE]);
    const request = Buffer.concat([
      Buffer.from(`REPORT SPAMC/1.2\r\nUser: nobody\r\nContent-length: ${mbox.length}\r\n\r\n`),
      mbox,
    ]);
    const reply = await askPolicy({ host: "127.0.0.1", port: frontPort }, request, { timeoutMs: 20_000 });
    assert.match(reply, /^SPAMD\/1\.1 0 EX_OK\r\nSpam: True ; (99\d|10\d\d)\.\d\d \/ /, reply);
    assert.match(reply, /^ *1000(\.0)? GTUBE /m, reply);
    assert.doesNotMatch(reply, /SPAMASSASSIN_NOT_SCANNED/);
  });

  it("attribute requests are not its business: the limits answer them alone", async () => {
    const decision = await decide({
      form: "attributes",
      stage: "rcpt",
      attributes: { sender: "a@example.org" },
    });
    assert.equal(decision.action, "accept");
    assert.equal(decision.score, undefined);
  });

  it("`mailpolicyd scan` asks the same spamd: GTUBE is spam, the front would reject it (exit 1)", async () => {
    const file = dir.file("gtube.eml");
    writeFileSync(file, GTUBE);
    const config = dir.file("scan.conf");
    writeFileSync(config, `${configText(spamd.tcp.port, "open")}[content]\n[spamd]\n`);
    const run = await runMainAsync(["scan", file, "--config", config]);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /^spam: +reject \(the spamd front's answer; \[spamd\] mark_threshold 5, reject_threshold 10\)$/m,
    );
    assert.match(run.stdout, /^spamd: +score (99\d|10\d\d)(\.\d+)?$/m);
    assert.match(run.stdout, /^ {2}GTUBE +1000 /m);
  });

  it("spamd stopped, fail_mode = open: accept without a score; /metrics shows why", async () => {
    await spamd.stop();
    const decision = await decide(messageRequest(GTUBE));
    assert.equal(decision.action, "accept");
    assert.equal(decision.rule, "fail-open");
    assert.equal(decision.score, undefined);
    assert.deepEqual(decision.tags, ["spamassassin:fail-open"]);
    const text = await metricsText();
    const scanned = await runMainAsync(["scan", dir.file("gtube.eml"), "--config", dir.file("scan.conf")]);
    assert.match(scanned.stdout, /^spamd: +refused: .*\(the daemon answers \[spamassassin\] fail_mode\)$/m);
    assert.match(scanned.stdout, /^spam: +no action /m, "spamd's score missing: the rules alone");
    assert.match(text, /^mailpolicyd_spamd_scans_total\{outcome="ok"\} 2$/m);
    assert.match(text, /^mailpolicyd_spamd_scans_total\{outcome="refused"\} 1$/m);
    assert.match(text, /^mailpolicyd_spamd_scans_total\{outcome="not-scanned"\} 1$/m);
    assert.match(text, /^mailpolicyd_spamd_scan_duration_seconds_count 2$/m);
    assert.match(text, /^mailpolicyd_spamd_breaker_state\{state="closed"\} 1$/m);
    assert.match(text, /^mailpolicyd_spamd_scans_in_flight 0$/m);
    assert.match(text, /^mailpolicyd_concern_failures_total\{concern="spamassassin",reason="error"\} 1$/m);
    assert.match(text, /^mailpolicyd_concern_up\{concern="spamassassin"\} 0$/m);
    assert.match(text, /^mailpolicyd_actor_up\{actor="spamassassin"\} 1$/m);
  });

  it("fail_mode = closed (after a reload): defer", async () => {
    daemon.reload(config("closed"));
    const decision = await decide(messageRequest(GTUBE));
    assert.equal(decision.action, "defer");
    assert.equal(decision.rule, "fail-closed");
    assert.equal(decision.message, "mail policy service unavailable, try again later");
    assert.match(await metricsText(), /^mailpolicyd_spamd_scans_total\{outcome="refused"\} 2$/m);
  });
});
