// The shipped Debian snippets installed into a copy of this machine's /etc/exim4, turned into a config
// by Debian's own update-exim4.conf, and driven with exim -bh: relayed and authenticated senders (which
// Debian's acl_check_rcpt accepts before any local hook) are counted and deferred; refused relaying is
// refused by Debian's ACL as before and costs no allowance.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { eximSnippet, type SnippetVariant } from "../../src/exim/snippets.ts";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { countReplies, eximBh, message, prepareEximDir } from "../helpers/exim.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

// A test-only authenticator; a real site has its own (Debian ships examples commented out).
const TEST_AUTH = `
test_plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{$auth2}{alice}}{eq{$auth3}{secret}}}}
  server_set_id = $auth2
`;
const AUTH_PLAIN = Buffer.from("\0alice\0secret").toString("base64");

function debianConfig(
  dir: TempDir,
  variant: Extract<SnippetVariant, `debian-${string}`>,
  socket: string,
): string {
  const confdir = dir.file(`exim4-${variant}`);
  cpSync("/etc/exim4", confdir, { recursive: true });
  const settings = `${confdir}/update-exim4.conf.conf`;
  writeFileSync(
    settings,
    readFileSync(settings, "utf8")
      .replace(/^dc_eximconfig_configtype=.*$/m, "dc_eximconfig_configtype='internet'")
      .replace(/^dc_relay_nets=.*$/m, "dc_relay_nets='192.0.2.0/24'")
      .replace(/^dc_other_hostnames=.*$/m, "dc_other_hostnames='example.net'")
      .replace(/^dc_use_split_config=.*$/m, `dc_use_split_config='${variant === "debian-split"}'`),
  );
  for (const file of eximSnippet(variant, socket, confdir)) {
    if (!file.path.endsWith("localmacros")) writeFileSync(file.path, file.content);
    else {
      // update-exim4.conf prepends localmacros to the template, but with -d it only looks for the copy's
      // file if /etc/exim4/exim4.conf.localmacros exists on the host; do its prepending here instead.
      const template = `${confdir}/exim4.conf.template`;
      writeFileSync(template, file.content + readFileSync(template, "utf8"));
    }
  }
  if (variant === "debian-split") writeFileSync(`${confdir}/conf.d/auth/50_test_plain`, TEST_AUTH);
  else {
    const template = `${confdir}/exim4.conf.template`;
    writeFileSync(
      template,
      readFileSync(template, "utf8").replace(/^begin authenticators$/m, `begin authenticators\n${TEST_AUTH}`),
    );
  }
  const out = dir.file(`${variant}.conf`);
  const result = spawnSync("update-exim4.conf", ["-d", confdir, "-o", out], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  return out;
}

for (const variant of ["debian-split", "debian-unsplit"] as const) {
  describe(`Debian's Exim config with the ${variant} snippet (update-exim4.conf, exim -bh)`, () => {
    let dir: TempDir;
    let daemon: DaemonProcess;
    let exim: string;

    before(async () => {
      dir = makeTempDir();
      prepareEximDir(dir);
      daemon = await startDaemonProcess(
        dir,
        writeTestConfig(
          dir,
          `socket_group = Debian-exim\n` +
            `[limit outbound]\nkey = sender\ncount = 2\ntime = 1h\nmessage = {key}: sending limit reached\n` +
            `[limit submission]\nkey = sasl_username\ncount = 2\ntime = 1h\nmessage = account {key} paused\n`,
        ),
      );
      exim = debianConfig(dir, variant, daemon.policySocket);
    });
    after(async () => {
      await daemon.stopCleanly();
      dir.remove();
    });

    it("counts and defers a relayed sender (relay_from_hosts)", () => {
      const session = eximBh(exim, "192.0.2.50", [
        "EHLO lan.example",
        ...message("relayed@example.org", ["a@remote.example"], ["Subject: one"]),
        ...message("relayed@example.org", ["b@remote.example"], ["Subject: two"]),
        "MAIL FROM:<relayed@example.org>",
        "RCPT TO:<c@remote.example>",
        "QUIT",
      ]);
      assert.equal(countReplies(session, "250 OK id="), 2, session.output);
      assert.deepEqual(session.replies.filter((reply) => reply.startsWith("451")), [
        "451 relayed@example.org: sending limit reached",
      ]);
    });

    it("counts and defers an authenticated sender by its login", () => {
      const session = eximBh(exim, "203.0.113.5", [
        "EHLO roaming.example",
        `AUTH PLAIN ${AUTH_PLAIN}`,
        ...message("alice@example.org", ["a@remote.example"]),
        ...message("alice.other@example.org", ["b@remote.example"]),
        "MAIL FROM:<third@example.org>",
        "RCPT TO:<c@remote.example>",
        "QUIT",
      ]);
      assert.ok(session.replies.some((reply) => reply.startsWith("235")), session.output);
      assert.equal(countReplies(session, "250 OK id="), 2, session.output);
      // Three different senders: only the login-keyed limit sees them as one account.
      assert.deepEqual(session.replies.filter((reply) => reply.startsWith("451")), [
        "451 account alice paused",
      ]);
    });

    it("leaves Debian's relay refusal alone and does not count refused recipients", () => {
      for (let i = 0; i < 3; i++) {
        const session = eximBh(exim, "203.0.113.6", [
          "EHLO stranger.example",
          "MAIL FROM:<stranger@example.org>",
          "RCPT TO:<victim@remote.example>",
          "QUIT",
        ]);
        assert.ok(session.replies.some((reply) => /^550 relay not permitted/.test(reply)), session.output);
      }
      assert.doesNotMatch(daemon.logs(), /sender=stranger@example\.org/);
    });
  });
}
