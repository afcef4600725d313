import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { holderAlive, lockText, parseLockText, parseProcessStat } from "../../../src/store/lock-holder.ts";

// /proc/PID/stat as Linux 6 writes it, the command name with a space and parentheses of its own.
const stat = (state: string, started: number) =>
  `4242 (odd) (name) ${state} 1 4242 4242 0 -1 4194560 120 0 0 0 1 0 0 0 20 0 1 0 ${started} 9 8 7\n`;

describe("a state file lock's holder", () => {
  it("is written and read back, with and without a start time", () => {
    assert.equal(lockText({ pid: 31, started: 123456 }), "31\n123456\n");
    assert.deepEqual(parseLockText("31\n123456\n"), { pid: 31, started: 123456 });
    assert.deepEqual(parseLockText("31\n"), { pid: 31 });
  });

  it("is nobody when the text is not a lock's", () => {
    for (const text of ["", "\n", "abc\n", "0\n", "31", "31\n12x\n", "-4\n", "31\n1\n2\n"]) {
      assert.equal(parseLockText(text), undefined, JSON.stringify(text));
    }
  });

  it("reads the state and start time past a command name holding parentheses", () => {
    assert.deepEqual(parseProcessStat(stat("S", 987654)), { state: "S", started: 987654 });
    assert.equal(parseProcessStat("4242 (cut) S 1 2"), undefined);
  });

  it("holds the lock while its PID is alive, not a zombie, and started when the lock says", () => {
    const holder = { pid: 4242, started: 987654 };
    assert.equal(holderAlive(holder, true, { state: "S", started: 987654 }), true);
    assert.equal(holderAlive(holder, false, undefined), false, "no such process");
    assert.equal(
      holderAlive(holder, true, { state: "S", started: 5 }),
      false,
      "the PID is another process's",
    );
    assert.equal(
      holderAlive(holder, true, { state: "Z", started: 987654 }),
      false,
      "killed, not collected yet",
    );
    assert.equal(holderAlive(holder, true, undefined), true, "no /proc: alive is all there is to go by");
    assert.equal(
      holderAlive({ pid: 4242 }, true, { state: "R", started: 5 }),
      true,
      "a lock without a start time",
    );
  });
});
