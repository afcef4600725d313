// state_file.in-doubt (store/doubts-file.ts): the merge calls in doubt written and read back with the Redis
// they went to, removed when none is left, and a file that is not one refused with a clear error.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { doubtsPath, readDoubtsFile, writeDoubtsFile } from "../../../src/store/doubts-file.ts";
import { makeCounter } from "../../../src/policy/sender-counter.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

describe("the merge calls in doubt's file", () => {
  it("writes the calls and where they went, and reads them back; none left: no file", () => {
    const dir = makeTempDir();
    try {
      const path = doubtsPath(dir.file("state.json"));
      assert.equal(path, dir.file("state.json.in-doubt"));
      const now = Date.now();
      const place = { host: "10.0.0.5", port: 6379, database: 2, prefix: "mpd:" };
      const sent = makeCounter(now - 2000, 2, now - 100, 0);
      const taken = makeCounter(now - 2000, 5, now - 100, 1);
      writeDoubtsFile(path, place, [{ limit: "out", key: "a@example.org", token: "h.1", sent, taken }]);
      const read = readDoubtsFile(path, now)!;
      assert.deepEqual(read.place, place);
      assert.equal(read.doubts.length, 1);
      const [doubt] = read.doubts;
      assert.deepEqual([doubt.limit, doubt.key, doubt.token], ["out", "a@example.org", "h.1"]);
      assert.deepEqual([doubt.sent.count, doubt.taken.count, doubt.taken.alert], [2, 5, 1]);
      writeDoubtsFile(path, place, []);
      assert.equal(existsSync(path), false);
      assert.equal(readDoubtsFile(path, now), undefined, "no file: no calls");
      writeDoubtsFile(path, undefined, [{ limit: "out", key: "a@example.org", token: "h.1", sent, taken }]);
      assert.equal(existsSync(path), false, "no Redis for them: no file");
    } finally {
      dir.remove();
    }
  });

  it("refuses a file that is not one", () => {
    const dir = makeTempDir();
    try {
      const path = dir.file("state.json.in-doubt");
      writeFileSync(path, `{"format":"mailpolicyd-exported","version":1,"limits":{}}`);
      assert.throws(() => readDoubtsFile(path, Date.now()), /not a mailpolicyd-merges-in-doubt v1 file/);
    } finally {
      dir.remove();
    }
  });
});
