// The pidfile, the state file and the Unix sockets on one path. pidfile = state_file passed config-test, and
// every restart lost every count: the pidfile written at start replaced the state file before the restore
// read it (moved aside as unusable), and its removal at stop deleted the snapshot just written. A socket on
// either path never listens (a listener removes only a socket it finds there). Reported at the later key.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";

const errors = (text: string): string[] => {
  const result = parseConfig(text, "/etc/m/t.conf", "/etc/m");
  return result.ok ? [] : result.errors;
};

describe("pidfile, state_file and the sockets on one path", () => {
  it("state_file = pidfile, also written differently", () => {
    assert.deepEqual(
      errors("[daemon]\npidfile = /var/lib/m/state.json\nstate_file = /var/lib/m/state.json\n"),
      [
        "/etc/m/t.conf:3: daemon.state_file: the same path as [daemon] pidfile",
      ],
    );
    assert.deepEqual(errors("[daemon]\nstate_file = /run/mailpolicyd/./mailpolicyd.pid\n"), [
      "/etc/m/t.conf:2: daemon.state_file: the same path as [daemon] pidfile",
    ]);
  });

  it("a socket on the state file's or the pidfile's path", () => {
    assert.deepEqual(errors("[daemon]\ncontrol_socket = /var/lib/mailpolicyd/state.json\n"), [
      "/etc/m/t.conf:2: daemon.control_socket: the same path as [daemon] state_file",
    ]);
    assert.deepEqual(errors("[daemon]\npidfile = p\n[postfix]\nsocket = /etc/m/p\n"), [
      "/etc/m/t.conf:4: postfix.socket: the same path as [daemon] pidfile",
    ]);
  });

  it("the defaults and distinct paths are fine", () => {
    assert.deepEqual(errors(""), []);
    assert.deepEqual(errors("[daemon]\npidfile = m.pid\nstate_file = state.json\n"), []);
  });
});
