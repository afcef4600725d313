// The [spamd] section (config/schema.ts SPAMD_SECTION, config/values.ts): no section, no front; a bare
// section has the schema's defaults; every value is checked, each error naming file and line.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";

const load = (text: string) => parseConfig(text, "t.conf", "/tmp");

function errors(text: string): string[] {
  const result = load(text);
  assert.equal(result.ok, false, text);
  return result.ok ? [] : result.errors;
}

describe("[spamd]", () => {
  it("absent: no front", () => {
    const result = load("[daemon]\n");
    assert.ok(result.ok);
    assert.equal(result.config.spamd, undefined);
  });

  it("a bare section: the schema's defaults", () => {
    const result = load("[spamd]\n");
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.config.spamd, {
      listen: { hostname: "127.0.0.1", port: 10783 },
      socket: undefined,
      markThreshold: 5,
      rejectThreshold: 10,
      maxMessageSize: 10 * 1024 * 1024,
      maxScans: 32,
      timeoutMs: 30_000,
    });
  });

  it("reads every key; sizes in bytes, k and M; a socket path relative to the config", () => {
    const result = load(
      "[spamd]\nlisten = none\nsocket = run/spamd.sock\nmark_threshold = 4.5\nreject_threshold = 12.25\n" +
        "max_message_size = 500k\nmax_scans = 4\ntimeout = 5s\n",
    );
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.config.spamd, {
      listen: undefined,
      socket: "/tmp/run/spamd.sock",
      markThreshold: 4.5,
      rejectThreshold: 12.25,
      maxMessageSize: 500 * 1024,
      maxScans: 4,
      timeoutMs: 5000,
    });
    assert.equal(load("[spamd]\nmax_message_size = 2048\nmark_threshold = -1\n").ok, true);
  });

  it("refuses bad values with file and line", () => {
    assert.match(
      errors("[spamd]\nmark_threshold = five\n")[0],
      /^t\.conf:2: spamd.mark_threshold: expected a score/,
    );
    assert.match(errors("[spamd]\nreject_threshold = 1.234\n")[0], /at most two decimals/);
    assert.match(errors("[spamd]\nmax_message_size = 10T\n")[0], /expected a size/);
    assert.match(errors("[spamd]\nmax_message_size = 10G\n")[0], /at most 536870912 bytes/);
    assert.match(errors("[spamd]\nmax_message_size = 100\n")[0], /at least 1024 bytes/);
    assert.match(errors("[spamd]\nlisten = 192.0.2.1:783\n")[0], /loopback/);
  });

  it("reports the keys that contradict each other at the line of the key written", () => {
    assert.deepEqual(errors("[spamd]\nmark_threshold = 11\n"), [
      "t.conf:2: spamd.mark_threshold: mark_threshold is above reject_threshold",
    ]);
    assert.deepEqual(errors("[spamd]\n\nreject_threshold = 4\n"), [
      "t.conf:3: spamd.reject_threshold: mark_threshold is above reject_threshold",
    ]);
    assert.deepEqual(errors("[spamd]\nreject_threshold = 4\nmark_threshold = 6\n"), [
      "t.conf:3: spamd.mark_threshold: mark_threshold is above reject_threshold",
    ]);
    assert.deepEqual(errors("[spamd]\nmax_message_size = 2M\nlisten = none\n"), [
      "t.conf:3: spamd.listen: listen = none and no socket: the front would listen nowhere",
    ]);
  });
});
