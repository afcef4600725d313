// A postmaster who is not root runs `mailpolicyd status` against a control socket of mode 0660 that
// belongs to a group they are not in: the error names the socket, its group, and how to join it (or, for a
// socket of group root, how to give it a group of its own).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync } from "node:fs";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const MAIL_GID = 8; // Debian's "mail" group; nobody is not a member

describe("a client without access to the control socket", () => {
  let dir: TempDir;
  let server: net.Server;
  let socket: string;

  before(async () => {
    assert.equal(process.getuid?.(), 0, "needs root to run the client as another user");
    dir = makeTempDir();
    chmodSync(dir.path, 0o755);
    socket = dir.file("control.sock");
    server = net.createServer((connection) => connection.destroy());
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    chmodSync(socket, 0o660);
    chownSync(socket, 0, MAIL_GID);
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    dir.remove();
  });

  it("says which socket, which group, and how to join it (exit 2)", { timeout: 30_000 }, () => {
    const result = spawnSync(
      "runuser",
      ["-u", "nobody", "--", ...mainCommand(["status", "--socket", socket])],
      { cwd: ROOT, encoding: "utf8", timeout: 20_000 },
    );
    assert.equal(result.status, 2, result.stderr);
    assert.equal(
      result.stderr,
      `mailpolicyd: cannot access ${socket}: permission denied (group mail, mode 0660). Run as root, or ` +
        "join the group: adduser nobody mail, then log in again\n",
    );
  });

  // A daemon run by root with no control_group: the socket's group is root, which no user should join.
  it("never tells the user to join group root", { timeout: 30_000 }, () => {
    chownSync(socket, 0, 0);
    try {
      const result = spawnSync(
        "runuser",
        ["-u", "nobody", "--", ...mainCommand(["status", "--socket", socket])],
        { cwd: ROOT, encoding: "utf8", timeout: 20_000 },
      );
      assert.equal(result.status, 2, result.stderr);
      assert.doesNotMatch(result.stderr, /adduser nobody root/);
      assert.equal(
        result.stderr,
        `mailpolicyd: cannot access ${socket}: permission denied (group root, mode 0660). Run as root, or ` +
          "give the socket a group of its own: control_group (socket_group for the policy socket) = " +
          "mailpolicyd in [daemon], restart mailpolicyd, then adduser nobody mailpolicyd and log in again\n",
      );
    } finally {
      chownSync(socket, 0, MAIL_GID);
    }
  });
});
