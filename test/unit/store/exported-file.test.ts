// state_file.exported (store/exported-file.ts): the copies of shared counters written and read back,
// removed when none is left, and a file that is not one refused with a clear error.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { exportedPath, readExportedFile, writeExportedFile } from "../../../src/store/exported-file.ts";
import { makeCounter } from "../../../src/policy/sender-counter.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

describe("the exported counters' file", () => {
  it("writes the copies and reads them back; none left: no file", () => {
    const dir = makeTempDir();
    try {
      const path = exportedPath(dir.file("state.json"));
      assert.equal(path, dir.file("state.json.exported"));
      const now = Date.now();
      const sliding = makeCounter(now - 1000, 4, now - 500, 2);
      sliding.prev = 3;
      const tables = new Map([
        ["out", new Map([["a@example.org", makeCounter(now - 2000, 7, now - 100, 0)]])],
        ["net", new Map([["192.0.2.0/24", sliding]])],
        ["empty", new Map()],
      ]);
      writeExportedFile(path, tables);
      const read = readExportedFile(path, now);
      assert.deepEqual([...read.keys()], ["out", "net"]);
      const a = read.get("out")!.get("a@example.org")!;
      assert.deepEqual([a.start, a.count, a.last, a.alert], [now - 2000, 7, now - 100, 0]);
      const b = read.get("net")!.get("192.0.2.0/24")!;
      assert.deepEqual([b.count, b.prev, b.alert], [4, 3, 2]);
      writeExportedFile(path, new Map([["out", new Map()]]));
      assert.equal(existsSync(path), false);
      assert.equal(readExportedFile(path, now).size, 0, "no file: no copies");
      writeExportedFile(path, new Map()); // nothing to remove: no error
    } finally {
      dir.remove();
    }
  });

  it("refuses a file that is not one", () => {
    const dir = makeTempDir();
    try {
      const path = dir.file("state.json.exported");
      writeFileSync(path, `{"format":"mailpolicyd-state","version":1}`);
      assert.throws(() => readExportedFile(path, Date.now()), /not a mailpolicyd-exported v1 file/);
      writeFileSync(path, "{broken");
      assert.throws(() => readExportedFile(path, Date.now()));
    } finally {
      dir.remove();
    }
  });
});
