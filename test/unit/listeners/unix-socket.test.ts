// The umask a listener binds its Unix socket under: its owner's alone, and the process's own umask back
// once the socket is bound (test/integration/control-socket-umask.test.ts: the socket a listener makes).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ownerOnlyUmask } from "../../../src/listeners/unix-socket.ts";

describe("ownerOnlyUmask", () => {
  it("narrows the umask to rw for the owner, and gives back the one it found", () => {
    const found = process.umask(0o002);
    try {
      const restore = ownerOnlyUmask();
      assert.equal(process.umask(0o177), 0o177, "narrowed while bound");
      restore();
      assert.equal(process.umask(), 0o002, "the process's own back");
    } finally {
      process.umask(found);
    }
  });
});
