// Limits counted before RCPT (stage = connect, helo, mail) through a real Exim (exim -bh): the shipped
// snippets never ask there, so such a limit counted nothing; the ACL the config check names
// (src/exim/early-stages.ts, docs/exim.md "Stages before RCPT") makes it count, and the daemon's start log
// and `config-test` say that it is needed.
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { DaemonProcess } from "../helpers/daemon-process.ts";
import { eximBh, startDaemonForExim, writeEximConfig } from "../helpers/exim.ts";
import { runMain } from "../helpers/runtime.ts";
import type { TempDir } from "../helpers/temp-dir.ts";
import {
  type EarlyStage,
  earlyStageAcl,
  earlyStageAclName,
  EXIM_ACL_OPTION,
} from "../../src/exim/early-stages.ts";

const LIMITS = `[limit per_connect]\nkey = client_address\ncount = 1\ntime = 1h\nstage = connect\n` +
  `[limit per_helo]\nkey = helo_name\ncount = 1\ntime = 1h\nstage = helo\n` +
  `[limit per_mail]\nkey = sender\ncount = 1\ntime = 1h\nstage = mail\n`;

/** One SMTP session from `ip` greeting as `helo`, sending MAIL FROM `from`. */
const session = (exim: string, ip: string, helo: string, from: string) =>
  eximBh(exim, ip, [`EHLO ${helo}`, `MAIL FROM:<${from}>`, "RCPT TO:<bob@example.net>", "QUIT"]);

const refusals = (exchange: { replies: string[] }) => exchange.replies.filter((reply) => /^4/.test(reply));

describe("limits counted at connect, helo and mail, in a real Exim", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let configFile: string;

  before(async () => {
    ({ dir, daemon } = await startDaemonForExim(LIMITS));
    configFile = dir.file("mailpolicyd.conf");
  });
  after(async () => {
    await daemon.stopCleanly();
    dir.remove();
  });

  it("the start log and config-test warn, per limit, that the snippets never ask at its stage", () => {
    const test = runMain(["config-test", configFile]);
    assert.equal(test.status, 0, test.stderr);
    for (const [name, stage] of [["per_connect", "connect"], ["per_helo", "helo"], ["per_mail", "mail"]]) {
      const option = EXIM_ACL_OPTION[stage as EarlyStage];
      const warning = new RegExp(
        `limit ${name}\\.stage: warning: the shipped Exim and Postfix snippets never ask at ${stage}.*${option}`,
      );
      assert.match(test.stdout, warning);
      assert.match(daemon.logs(), warning);
    }
    assert.match(test.stdout, /: OK$/m);
  });

  it("a reload that adds such a limit says it too", async () => {
    appendFileSync(configFile, "[limit late]\nkey = sender\ncount = 5\ntime = 1h\nstage = mail\n");
    daemon.signal("SIGHUP");
    await daemon.waitForLog(
      /limit late\.stage: warning: the shipped Exim and Postfix snippets never ask at mail/,
    );
  });

  it("with the shipped snippet only, none of them counts", () => {
    const exim = writeEximConfig(dir, { address: daemon.eximAddress });
    for (let i = 0; i < 3; i++) {
      const exchange = session(exim, "198.51.100.1", "one.example", "a@remote.example");
      assert.deepEqual(refusals(exchange), [], exchange.output);
    }
  });

  it("with the ACL the warning names, each counts at its own stage", () => {
    const stages: EarlyStage[] = ["connect", "helo", "mail"];
    const exim = writeEximConfig(dir, {
      address: daemon.eximAddress,
      mainExtra: stages.map((stage) => `${EXIM_ACL_OPTION[stage]} = ${earlyStageAclName(stage)}\n`).join(""),
      aclExtra: stages.map((stage) => earlyStageAcl(stage, daemon.eximAddress)).join("\n"),
    });
    // Each limit allows one: a second session from the same client is refused at connect, one greeting
    // with the same name at EHLO, one with the same sender at MAIL; the others go through.
    const first = session(exim, "198.51.100.2", "two.example", "b@remote.example");
    assert.deepEqual(refusals(first), [], first.output);
    const sameClient = session(exim, "198.51.100.2", "three.example", "c@remote.example");
    assert.match(sameClient.replies[0] ?? "", /^4\d\d .*198\.51\.100\.2/, sameClient.output);
    const sameHelo = session(exim, "198.51.100.3", "two.example", "d@remote.example");
    assert.match(sameHelo.replies[0] ?? "", /^220 /, sameHelo.output);
    assert.match(refusals(sameHelo)[0] ?? "", /^4\d\d .*two\.example/, sameHelo.output);
    const sameSender = session(exim, "198.51.100.4", "four.example", "b@remote.example");
    assert.match(refusals(sameSender)[0] ?? "", /^4\d\d .*b@remote\.example/, sameSender.output);
    assert.equal(sameSender.replies.filter((reply) => /^250 /.test(reply)).length >= 1, true);
  });
});
