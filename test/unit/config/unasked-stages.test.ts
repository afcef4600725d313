// A limit (or [spf]) at a stage the shipped Exim and Postfix lines never ask at (connect, helo, mail)
// counted nothing without a word: the config check now warns at the stage key's line, with what to add.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";
import { unaskedStageWarnings } from "../../../src/config/unasked-stages.ts";

function warningsOf(text: string): string[] {
  const result = parseConfig(text, "t.conf", "/base");
  if (!result.ok) throw new Error(`config rejected:\n${result.errors.join("\n")}`);
  return result.warnings ?? [];
}

const limit = (name: string, stage?: string, key = "client_address") =>
  `[limit ${name}]\nkey = ${key}\ncount = 5\ntime = 1h\n${stage === undefined ? "" : `stage = ${stage}\n`}`;

describe("unaskedStageWarnings", () => {
  it("says, at the stage key's line, that a connect limit counts nothing, and what Exim needs", () => {
    assert.deepEqual(warningsOf(limit("conn", "connect")), [
      "t.conf:5: limit conn.stage: warning: the shipped Exim and Postfix snippets never ask at connect, so " +
      "this limit counts nothing until the MTA asks there: for Exim set acl_smtp_connect = " +
      "acl_mailpolicyd_connect, an ACL asking ${readsocket{inet:127.0.0.1:10037}{connect " +
      "client_address=${quote:$sender_host_address} client_name=${quote:$sender_host_name}}…} " +
      '(docs/exim.md, "Stages before RCPT")',
    ]);
  });

  it("warns for every limit at connect, helo or mail, and for none at rcpt, data, local or the default", () => {
    const text = limit("a", "connect") + limit("b", "rcpt") + limit("c", "helo", "helo_name") +
      limit("d", "data") + limit("e", "mail", "sender") + limit("f", "local", "sender") + limit("g");
    const warnings = warningsOf(text);
    assert.deepEqual(warnings.map((warning) => warning.split(": warning:")[0]), [
      "t.conf:5: limit a.stage",
      "t.conf:15: limit c.stage",
      "t.conf:25: limit e.stage",
    ]);
    assert.match(
      warnings[1],
      /never ask at helo, .*acl_smtp_helo = acl_mailpolicyd_helo.*\{helo client_address=/,
    );
    assert.match(warnings[2], /never ask at mail, .*acl_smtp_mail = acl_mailpolicyd_mail.*\{mail sender=/);
    assert.deepEqual(warningsOf(limit("b", "rcpt") + limit("g")), []);
  });

  it("names the Postfix restriction list and endpoint when the config has [postfix]", () => {
    const [warning] = warningsOf(
      "[daemon]\npolicy_listen = none\n[postfix]\nlisten = [::1]:10040\n" + limit("m", "mail", "sender"),
    );
    assert.match(
      warning,
      /^t\.conf:9: limit m\.stage: warning: .* until the MTA asks there: for Postfix add check_policy_service inet:\[::1\]:10040 to smtpd_sender_restrictions with smtpd_delay_reject = no \(docs\/postfix\.md, "What Postfix asks, and at which stage"\)$/,
    );
    assert.doesNotMatch(warning, /for Exim/);
  });

  it("warns for [spf] stage = mail, unless SPF is off", () => {
    const [warning] = warningsOf("[spf]\nstage = mail\n");
    assert.match(warning, /^t\.conf:2: spf\.stage: warning: .* never ask at mail, so SPF checks no sender /);
    assert.deepEqual(warningsOf("[spf]\nenabled = no\nstage = mail\n"), []);
    assert.deepEqual(warningsOf("[spf]\nstage = rcpt\n"), []);
  });

  it("says what to do when nothing asks over TCP, and PORT for a port the daemon picks", () => {
    const place = {
      key: "limit x.stage",
      line: 3,
      stage: "helo" as const,
      effect: "this limit counts nothing",
    };
    assert.match(
      unaskedStageWarnings("f", [place], {})[0],
      /there: make the client of the policy socket ask/,
    );
    assert.match(
      warningsOf("[daemon]\npolicy_listen = 127.0.0.1:0\n" + limit("h", "helo"))[0],
      /inet:127\.0\.0\.1:PORT/,
    );
  });
});
