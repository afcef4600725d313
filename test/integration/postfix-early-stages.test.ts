// Limits counted before RCPT (stage = connect, helo, mail) through a real Postfix: the lines of
// `mailpolicyd postfix-snippet` ask at RCPT and at the end of the message only, so such limits counted
// nothing. The check added to the restriction list the config check names (EARLY_STAGE_RESTRICTIONS), with
// smtpd_delay_reject = no, makes each count at its own stage; under Postfix's default (yes) those lists run
// at each RCPT TO and are asked as RCPT: nothing counts at the early stages, and a per-recipient limit counts
// each recipient once per list, which is why the warning says `smtpd_delay_reject = no`.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { EARLY_STAGE_RESTRICTIONS, policyCheck } from "../../src/postfix/snippet.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { swaksWith } from "../helpers/exim.ts";
import { pastedSnippet, type PostfixServer, startPostfix } from "../helpers/postfix.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const LIMITS = `[limit per_connect]\nkey = client_address\ncount = 3\ntime = 1h\nstage = connect\n` +
  `[limit per_helo]\nkey = helo_name\ncount = 1\ntime = 1h\nstage = helo\n` +
  `[limit per_mail]\nkey = sender\ncount = 1\ntime = 1h\nstage = mail\n` +
  `[limit per_recipient]\nkey = sender\nper = recipient\ncount = 3\ntime = 1h\n`;

describe("limits counted at connect, helo and mail, in a real Postfix", () => {
  let dir: TempDir | undefined;
  let daemon: Daemon | undefined;
  let postfix: PostfixServer | undefined;

  /** Daemon and Postfix with the check in the early restriction lists, smtpd_delay_reject as given. */
  async function start(delayReject: "yes" | "no") {
    dir = makeTempDir();
    const port = await freePort();
    const lines: string[] = [];
    const parsed = parseConfig(
      `[daemon]\npolicy_listen = none\npolicy_socket = policy.sock\ncontrol_socket = control.sock\n` +
        `pidfile = mailpolicyd.pid\nstate_file = state.json\n${LIMITS}[postfix]\nlisten = 127.0.0.1:${port}\n`,
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("postfix: listening")), 5000, "Postfix listener");
    const endpoint = `inet:127.0.0.1:${port}`;
    const early = Object.values(EARLY_STAGE_RESTRICTIONS).map((list) =>
      `${list} = ${policyCheck(endpoint)}\n`
    );
    postfix = await startPostfix(dir, await freePort(), {
      recipientRestrictions: "", // the snippet's lines below set it
      mainExtra: `${pastedSnippet(endpoint)}\n${early.join("")}smtpd_delay_reject = ${delayReject}\n`,
    });
    return postfix;
  }
  /** One message, `helo` and `from` given, to one recipient; swaks exits 24 when the recipient is refused. */
  const send = (server: PostfixServer, helo: string, from: string) =>
    swaksWith([
      ...["--server", "127.0.0.1", "--port", String(server.port), "--helo", helo],
      ...["--from", from, "--to", "sink@example.test"],
    ]);

  afterEach(async () => {
    await postfix?.stop();
    daemon?.stop();
    dir?.remove();
    postfix = daemon = dir = undefined;
  });

  it("with smtpd_delay_reject = no, each limit counts at its own stage", async () => {
    const server = await start("no");
    const first = await send(server, "a.example", "a@remote.example");
    assert.equal(first.status, 0, first.output);
    const sameHelo = await send(server, "a.example", "b@remote.example");
    assert.equal(sameHelo.status, 24, sameHelo.output);
    assert.match(sameHelo.output, /^<\*\* +4\d\d .*a\.example over limit/m);
    const sameSender = await send(server, "b.example", "a@remote.example");
    assert.equal(sameSender.status, 24, sameSender.output);
    assert.match(sameSender.output, /^<\*\* +4\d\d .*a@remote\.example over limit/m);
    // The fourth connection from 127.0.0.1 is over per_connect's 3.
    const fourth = await send(server, "c.example", "c@remote.example");
    assert.equal(fourth.status, 24, fourth.output);
    assert.match(fourth.output, /^<\*\* +4\d\d .*127\.0\.0\.1 over limit/m);
    assert.equal(server.delivered().length, 1);
  });

  it("under Postfix's default smtpd_delay_reject = yes, the lists are asked as RCPT: nothing counts early", async () => {
    const server = await start("yes");
    // One recipient of a per-recipient limit of 3 is asked once per list (client, helo, sender, recipient):
    // the first message is already over it, while the early limits never counted.
    const first = await send(server, "a.example", "a@remote.example");
    assert.equal(first.status, 24, first.output);
    assert.match(first.output, /^<\*\* +4\d\d .*a@remote\.example over limit: 3 /m);
    // The same HELO again, the same client a fourth time: neither is refused for it.
    for (const from of ["b@remote.example", "c@remote.example", "d@remote.example"]) {
      const again = await send(server, "a.example", from);
      assert.doesNotMatch(again.output, /a\.example over limit|127\.0\.0\.1 over limit/, again.output);
    }
  });
});
