// The control socket between its bind and its chmod. A Unix socket takes the process's umask at bind(2)
// (0777 & ~umask); the control actor gives it socket_mode and control_group once the listener resolves.
// A daemon started from a shell with umask 0 or 002, or a --control-socket outside /run/mailpolicyd (whose
// folder is 0755 in the package anyway), had its socket open to every local user, or to its group, until
// then: another user connected and reset counters. Now the listener binds it for its owner alone: at the
// moment the listener resolves (before any chmod) the socket is 0600, and `nobody`'s reset is refused.
// A client as another user needs root (runuser), as control-permission.test.ts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../src/log.ts";
import { type RunningServer, serveHttp } from "../../src/control/serve.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const log = createLogger("error", () => {});

/** `mailpolicyd ARGS` as `nobody`, not blocking this process (the server answers from it). */
function runAsNobody(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn("runuser", ["-u", "nobody", "--", ...mainCommand(args)], {
    cwd: ROOT,
    timeout: 20_000,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => stdout += chunk);
  child.stderr.on("data", (chunk) => stderr += chunk);
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

describe("the control socket as the listener resolves, before its mode is set", () => {
  let dir: TempDir;
  let server: RunningServer | undefined;
  let socket: string;
  let resets = 0;

  before(async () => {
    assert.equal(process.getuid?.(), 0, "needs root to run the client as another user");
    dir = makeTempDir();
    chmodSync(dir.path, 0o755); // as /run/mailpolicyd: any user may reach what is in it
    socket = dir.file("control.sock");
    const umask = process.umask(0o000); // as a daemon started from a shell with umask 0
    try {
      server = await serveHttp({ unix: socket }, (request) => {
        if (request.method === "DELETE") resets++;
        return Response.json({ key: "a@example.org", reset: 1 }); // as the control app's answer to a reset
      }, log);
      assert.equal(process.umask(0o000), 0o000, "the process's umask is back");
    } finally {
      process.umask(umask);
    }
  });
  after(() => {
    server?.stop();
    dir.remove();
  });

  it("is its owner's alone (0600), whatever the umask", () => {
    assert.equal((statSync(socket).mode & 0o777).toString(8), "600");
  });

  it("refuses another local user's reset", { timeout: 30_000 }, async () => {
    const result = await runAsNobody(["reset", "a@example.org", "--socket", socket]);
    assert.equal(result.status, 2, result.stdout + result.stderr);
    assert.match(
      result.stderr,
      /^mailpolicyd: cannot access .*: permission denied \(group root, mode 0600\)/,
    );
    assert.equal(resets, 0);
  });
});
