// A `per = recipient` warn limit on one message to several recipients: every recipient past the limit gets
// a warning with its own count, and both MTAs add a header for each RCPT (Exim's add_header drops only an
// identical line; Postfix adds every PREPEND). The message must carry one warning, the first recipient's
// over the limit (src/policy/header-memory.ts: one a rule). Real Exim (exim -bd, swaks, maildir) and real Postfix (its .deb, unpacked).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type MaildirExim, startMaildirExim } from "../helpers/exim-maildir.ts";
import { swaks, swaksAsync } from "../helpers/exim.ts";
import {
  pastedSnippet,
  postfixPrivateDirectory,
  type PostfixServer,
  startPostfix,
} from "../helpers/postfix.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const LIMITS = `[limit fanout]\nkey = sender\nper = recipient\ncount = 1\ntime = 1h\naction = warn\n` +
  `message = {key} wrote to {count} recipients\n`;
const FIRST_OVER = "X-Mailpolicyd-Warning: fan@example.org wrote to 2 recipients";
const RECIPIENTS = ["a", "b", "c", "d", "e"];

/** The warning lines in a delivered message's header. */
const warnings = (mail: string) => mail.split(/\r?\n\r?\n/)[0].match(/^X-Mailpolicyd-Warning: .*$/gm) ?? [];

describe("a per-recipient warn limit warns once per message", () => {
  describe("through a real Exim", () => {
    let setup: MaildirExim;
    before(async () => {
      setup = await startMaildirExim(() => LIMITS);
    });
    after(async () => await setup?.stop());

    it("one warning line, the first recipient's over the limit", async () => {
      const to = RECIPIENTS.map((name) => `${name}@example.net`).join(",");
      const sent = swaks(setup.exim.port, "fan@example.org", to, "five recipients");
      assert.equal(sent.status, 0, sent.output);
      await waitFor(() => setup.messages().length >= 1, 15_000, "the delivery");
      const [mail] = setup.messages();
      assert.deepEqual(warnings(mail), [FIRST_OVER], mail);
    });
  });

  describe("through a real Postfix", () => {
    let dir: TempDir;
    let daemon: Daemon | undefined;
    let postfix: PostfixServer | undefined;
    const lines: string[] = [];

    before(async () => {
      dir = makeTempDir();
      postfixPrivateDirectory(dir);
      const policyPort = await freePort();
      const parsed = parseConfig(
        `[daemon]\npolicy_socket = ${dir.path}/policy.sock\ncontrol_socket = ${dir.path}/control.sock\n` +
          `pidfile = ${dir.path}/pid\nstate_file = ${dir.path}/state.json\npolicy_listen = none\n` +
          `${LIMITS}[postfix]\nlisten = 127.0.0.1:${policyPort}\n`,
        "test.conf",
        dir.path,
      );
      assert.ok(parsed.ok, JSON.stringify(parsed));
      daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
      await waitFor(() => lines.some((line) => line.includes("postfix: listening")), 5000, "the listener");
      postfix = await startPostfix(dir, await freePort(), {
        recipientRestrictions: "",
        mainExtra: pastedSnippet(`inet:127.0.0.1:${policyPort}`),
      });
    });
    after(async () => {
      await postfix?.stop();
      daemon?.stop();
      dir?.remove();
    });

    it("one warning line in every copy delivered", async () => {
      const to = RECIPIENTS.map((name) => `${name}@example.test`).join(",");
      const sent = await swaksAsync(postfix!.port, "fan@example.org", to, "five recipients");
      assert.equal(sent.status, 0, `${sent.output}\n${postfix!.maillog()}`);
      await waitFor(() => postfix!.delivered().length === RECIPIENTS.length, 15_000, "five deliveries");
      for (const mail of postfix!.delivered()) {
        assert.deepEqual(warnings(mail), [FIRST_OVER], mail);
      }
    });
  });
});
