// Two TCP listeners of one config on the same port: only one of them can bind it. [postfix] on the port of
// policy_listen was refused; [spamd] there started the front on it and left the policy listener (what
// Exim's snippets ask) failing and restarting for good, and control_listen there was only logged at start.
// Every such pair is an error at the line of the later key.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";

const errors = (text: string): string[] => {
  const result = parseConfig(text, "t.conf", "/tmp");
  return result.ok ? [] : result.errors;
};

describe("TCP listeners on one port", () => {
  it("[spamd] listen on policy_listen's port", () => {
    assert.deepEqual(
      errors("[daemon]\npolicy_listen = 127.0.0.1:10037\n[spamd]\nlisten = 127.0.0.1:10037\n"),
      [
        "t.conf:4: spamd.listen: the same port as [daemon] policy_listen",
      ],
    );
  });

  it("[spamd]'s default port taken by policy_listen: at the section's line", () => {
    assert.deepEqual(errors("[daemon]\npolicy_listen = 127.0.0.1:10783\n[spamd]\nmax_scans = 4\n"), [
      "t.conf:3: spamd.listen: the same port as [daemon] policy_listen",
    ]);
  });

  it("control_listen on policy_listen's, [postfix]'s or [spamd]'s port", () => {
    assert.deepEqual(errors("[daemon]\ncontrol_listen = 127.0.0.1:10037\n"), [
      "t.conf:2: daemon.control_listen: the same port as [daemon] policy_listen",
    ]);
    assert.deepEqual(errors("[daemon]\ncontrol_listen = 127.0.0.1:10038\n[postfix]\n"), [
      "t.conf:3: postfix.listen: the same port as [daemon] control_listen",
    ]);
    assert.deepEqual(errors("[spamd]\nlisten = 127.0.0.1:10099\n[postfix]\nlisten = 127.0.0.1:10099\n"), [
      "t.conf:4: postfix.listen: the same port as [spamd] listen",
    ]);
  });

  it("port 0 (any free port) and none collide with nothing", () => {
    assert.deepEqual(
      errors(
        "[daemon]\npolicy_listen = 127.0.0.1:0\n[postfix]\nlisten = 127.0.0.1:0\n[spamd]\nlisten = none\nsocket = s\n",
      ),
      [],
    );
  });
});
