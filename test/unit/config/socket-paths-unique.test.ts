// Two Unix listeners of one config on one path: the second cannot bind it (or would take it from the
// first), and is restarted by the supervisor for good, while config-test said OK. policy_socket =
// control_socket left the daemon without its control plane (status, monit's /health). Reported at the
// later key's line.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";

const errors = (text: string): string[] => {
  const result = parseConfig(text, "/etc/m/t.conf", "/etc/m");
  return result.ok ? [] : result.errors;
};

describe("Unix sockets on one path", () => {
  it("control_socket = policy_socket, also written differently", () => {
    assert.deepEqual(errors("[daemon]\npolicy_socket = /run/m/p.sock\ncontrol_socket = /run/m/p.sock\n"), [
      "/etc/m/t.conf:3: daemon.control_socket: the same path as [daemon] policy_socket",
    ]);
    assert.deepEqual(errors("[daemon]\npolicy_socket = s.sock\ncontrol_socket = /etc/m/./s.sock\n"), [
      "/etc/m/t.conf:3: daemon.control_socket: the same path as [daemon] policy_socket",
    ]);
  });

  it("[postfix] or [spamd] socket on another listener's path, the default ones included", () => {
    assert.deepEqual(errors("[postfix]\nsocket = /run/mailpolicyd/policy.sock\n"), [
      "/etc/m/t.conf:2: postfix.socket: the same path as [daemon] policy_socket",
    ]);
    assert.deepEqual(errors("[spamd]\nsocket = /run/x.sock\n[postfix]\nsocket = /run/x.sock\n"), [
      "/etc/m/t.conf:4: postfix.socket: the same path as [spamd] socket",
    ]);
  });

  it("distinct paths are fine", () => {
    assert.deepEqual(errors("[postfix]\nsocket = /run/p.sock\n[spamd]\nsocket = /run/s.sock\n"), []);
  });
});
