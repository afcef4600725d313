// The [postfix] section (config/schema.ts POSTFIX_SECTION): no section, no Postfix listener; a bare
// section has the schema's defaults; every value and the checks across keys.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";
import { daemonActorIds } from "../../../src/daemon.ts";

const load = (text: string) => parseConfig(text, "t.conf", "/tmp/conf");

describe("[postfix]", () => {
  it("absent: no Postfix listener", () => {
    const result = load("[limit out]\ncount = 5\ntime = 1h\n");
    assert.ok(result.ok);
    assert.equal(result.config.postfix, undefined);
    assert.ok(!daemonActorIds(result.config).includes("postfix"));
  });

  it("a bare section: loopback port 10038, Postfix's words and max_idle, and the listener starts", () => {
    const result = load("[postfix]\n");
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.config.postfix, {
      listen: { hostname: "127.0.0.1", port: 10038 },
      socket: undefined,
      socketMode: 0o660,
      socketGroup: undefined,
      vocabulary: {
        accept: "DUNNO",
        defer: "DEFER_IF_PERMIT",
        reject: "REJECT",
        warn: "WARN",
        headers: "PREPEND",
      },
      idleTimeoutMs: 300_000,
      maxRequestBytes: 16384,
      milterListen: undefined,
      milterSocket: undefined,
      milterTimeoutMs: 900_000,
    });
    assert.ok(daemonActorIds(result.config).includes("postfix"));
  });

  it("reads every key; a relative socket path is taken from the config's folder", () => {
    const result = load(
      "[postfix]\nlisten = none\nsocket = postfix.sock\nsocket_mode = 0666\naccept = OK\ndefer = 451 4.7.1\n" +
        "reject = 550 5.7.1\nwarn = DUNNO\nheaders = none\nidle_timeout = 60s\nmax_request_size = 4096\n" +
        "milter_listen = 127.0.0.1:10039\nmilter_socket = milter.sock\nmilter_timeout = 20m\n",
    );
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.config.postfix, {
      listen: undefined,
      socket: "/tmp/conf/postfix.sock",
      socketMode: 0o666,
      socketGroup: undefined,
      vocabulary: { accept: "OK", defer: "451 4.7.1", reject: "550 5.7.1", warn: "DUNNO", headers: "NONE" },
      idleTimeoutMs: 60_000,
      maxRequestBytes: 4096,
      milterListen: { hostname: "127.0.0.1", port: 10039 },
      milterSocket: "/tmp/conf/milter.sock",
      milterTimeoutMs: 1_200_000,
    });
  });

  it("refuses bad values, naming file, line and key", () => {
    const result = load("[postfix]\nlisten = 192.0.2.1:10038\naccept = PERMIT\nmax_request_size = 10\n");
    assert.ok(!result.ok);
    assert.match(result.errors[0], /^t\.conf:2: postfix\.listen: expected a loopback HOST:PORT/);
    assert.match(result.errors[1], /^t\.conf:3: postfix\.accept: /);
    assert.match(result.errors[2], /^t\.conf:4: postfix\.max_request_size: /);
  });

  it("refuses nowhere to listen, and the port Exim's listener has", () => {
    const nowhere = load("[postfix]\nidle_timeout = 60s\nlisten = none\n");
    assert.deepEqual(nowhere.ok ? [] : nowhere.errors, [
      "t.conf:3: postfix.listen: listen = none, no socket, no milter_listen and no milter_socket: nowhere to listen",
    ]);
    const same = load("[daemon]\npolicy_listen = 127.0.0.1:10040\n[postfix]\n\nlisten = 127.0.0.1:10040\n");
    assert.ok(!same.ok);
    assert.match(same.errors[0], /^t\.conf:5: postfix\.listen: the same port as \[daemon\] policy_listen/);
  });

  it("takes milter_listen alone, on a port of its own", () => {
    const alone = load("[postfix]\nlisten = none\nmilter_listen = 127.0.0.1:10039\n");
    assert.ok(alone.ok, JSON.stringify(alone));
    assert.deepEqual(alone.config.postfix?.milterListen, { hostname: "127.0.0.1", port: 10039 });
    const same = load("[postfix]\nlisten = 127.0.0.1:10038\nmilter_listen = 127.0.0.1:10038\n");
    assert.deepEqual(same.ok ? [] : same.errors, [
      "t.conf:3: postfix.milter_listen: the same port as [postfix] listen",
    ]);
    const remote = load("[postfix]\nmilter_listen = 192.0.2.1:10039\n");
    assert.ok(!remote.ok);
    assert.match(remote.errors[0], /^t\.conf:2: postfix\.milter_listen: expected a loopback HOST:PORT/);
  });

  it("takes milter_socket alone, on a path of its own", () => {
    const alone = load(
      "[postfix]\nlisten = none\nmilter_socket = /run/x/milter.sock\nsocket_group = postfix\n",
    );
    assert.ok(alone.ok, JSON.stringify(alone));
    assert.equal(alone.config.postfix?.milterSocket, "/run/x/milter.sock");
    assert.equal(alone.config.postfix?.socketGroup, "postfix");
    assert.ok(daemonActorIds(alone.config).includes("postfix"));
    const same = load("[postfix]\nsocket = /run/x/p.sock\nmilter_socket = /run/x/p.sock\n");
    assert.deepEqual(same.ok ? [] : same.errors, [
      "t.conf:3: postfix.milter_socket: the same path as [postfix] socket",
    ]);
  });
});
