// The seed-compatible form: one bare token per connection, "yes" once the window's count passes `count`.
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askMany, askPolicy } from "../helpers/policy-client.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("policy socket, legacy form (real daemon process)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;

  before(async () => {
    dir = makeTempDir();
    daemon = await startDaemonProcess(dir, writeTestConfig(dir, "[thresholds]\ntime = 300\ncount = 5\n"));
  });
  after(async () => {
    await daemon.stop();
    dir.remove();
  });

  it("answers no up to count, then yes, without a trailing newline", async () => {
    const replies = await askMany(daemon.policySocket, "alice@example.org\n", 8);
    assert.deepEqual(replies, ["no", "no", "no", "no", "no", "yes", "yes", "yes"]);
  });

  it("counts addresses case-insensitively and keys independently", async () => {
    assert.deepEqual(await askMany(daemon.policySocket, "Bob@Example.ORG\n", 5), [
      "no",
      "no",
      "no",
      "no",
      "no",
    ]);
    assert.equal(await askPolicy(daemon.policySocket, "bob@example.org\n"), "yes");
    assert.equal(await askPolicy(daemon.policySocket, "carol@example.org\n"), "no");
  });

  it("counts an empty line as the null sender <>", async () => {
    await askMany(daemon.policySocket, "\n", 5);
    assert.equal(await askPolicy(daemon.policySocket, "<>\n"), "yes");
  });

  it("accepts a request without newline (half-close only) and one with newline but no half-close", async () => {
    assert.equal(await askPolicy(daemon.policySocket, "dave@example.org"), "no");
    assert.equal(await askPolicy(daemon.policySocket, "dave@example.org\n", { halfClose: false }), "no");
    assert.equal(await askPolicy(daemon.policySocket, "192.0.2.7\r\n"), "no");
  });

  it("serves many concurrent connections with the right count", async () => {
    const replies = await Promise.all(
      Array.from({ length: 40 }, () => askPolicy(daemon.policySocket, "burst@example.org\n")),
    );
    assert.equal(replies.filter((reply) => reply === "no").length, 5);
    assert.equal(replies.filter((reply) => reply === "yes").length, 35);
  });

  it("creates the socket with mode 0660 and a pidfile with its pid", async () => {
    assert.equal(statSync(daemon.policySocket).mode & 0o777, 0o660);
    const { readFileSync } = await import("node:fs");
    assert.equal(Number(readFileSync(dir.file("mailpolicyd.pid"), "utf8")), daemon.pid);
  });
});
