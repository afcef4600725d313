import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileKind, readRegularFile, statePathProblem } from "../../../src/store/regular-file.ts";
import { asideName, setAside } from "../../../src/store/set-aside.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const isRoot = process.getuid?.() === 0;

describe("readRegularFile", () => {
  it("reads a regular file and refuses a FIFO, a directory and a device without blocking", () => {
    const dir = makeTempDir();
    try {
      writeFileSync(dir.file("plain"), "text");
      assert.equal(readRegularFile(dir.file("plain")), "text");
      execFileSync("mkfifo", [dir.file("fifo")]);
      assert.throws(
        () => readRegularFile(dir.file("fifo")),
        /^Error: is a FIFO \(named pipe\), not a regular file$/,
      );
      assert.throws(() => readRegularFile(dir.path), /is a directory, not a regular file/);
      assert.throws(() => readRegularFile("/dev/null"), /is a character device, not a regular file/);
      assert.throws(() => readRegularFile(dir.file("missing")), { code: "ENOENT" });
    } finally {
      dir.remove();
    }
  });

  it("names every kind of file", () => {
    const kinds = ["isFile", "isDirectory", "isFIFO", "isSocket", "isCharacterDevice", "isBlockDevice"];
    const as = (kind: string) =>
      Object.fromEntries(kinds.map((name) => [name, () => name === kind])) as unknown as Parameters<
        typeof fileKind
      >[0];
    assert.deepEqual(kinds.map((kind) => fileKind(as(kind))), [
      "a regular file",
      "a directory",
      "a FIFO (named pipe)",
      "a socket",
      "a character device",
      "a block device",
    ]);
  });
});

describe("statePathProblem", () => {
  it("accepts a missing file (its folder is made) and a regular file", () => {
    const dir = makeTempDir();
    try {
      assert.equal(statePathProblem(dir.file("a/b/state.json")), undefined);
      writeFileSync(dir.file("state.json"), "{}");
      assert.equal(statePathProblem(dir.file("state.json")), undefined);
    } finally {
      dir.remove();
    }
  });

  it("refuses a directory, a FIFO, a device, and a path under a file", () => {
    const dir = makeTempDir();
    try {
      mkdirSync(dir.file("state.json"));
      assert.equal(statePathProblem(dir.file("state.json")), "is a directory, not a regular file");
      execFileSync("mkfifo", [dir.file("fifo")]);
      assert.equal(statePathProblem(dir.file("fifo")), "is a FIFO (named pipe), not a regular file");
      assert.equal(statePathProblem("/dev/null"), "is a character device, not a regular file");
      writeFileSync(dir.file("file"), "");
      assert.match(statePathProblem(dir.file("file/state.json"))!, /^its folder .*file is not usable: /);
    } finally {
      dir.remove();
    }
  });

  // Deno's access(W_OK) judges by the mode bits: it refused root the package's /var/lib/mailpolicyd
  // (owned by mailpolicyd), so `run` as root under Deno would not start.
  it("lets root keep its state in a folder another user owns, and leaves no file behind", {
    skip: !isRoot,
  }, () => {
    const dir = makeTempDir();
    try {
      mkdirSync(dir.file("theirs"), 0o755);
      chownSync(dir.file("theirs"), 65534, 65534);
      assert.equal(statePathProblem(dir.file("theirs/state.json")), undefined);
      assert.deepEqual(readdirSync(dir.file("theirs")), []);
    } finally {
      dir.remove();
    }
  });

  it(
    "refuses a file it cannot read, and a folder it cannot write (not as root, who can)",
    { skip: isRoot },
    () => {
      const dir = makeTempDir();
      try {
        writeFileSync(dir.file("state.json"), "{}");
        chmodSync(dir.file("state.json"), 0o000);
        assert.match(statePathProblem(dir.file("state.json"))!, /^cannot be read: .*EACCES/);
        mkdirSync(dir.file("ro"));
        chmodSync(dir.file("ro"), 0o500);
        assert.match(statePathProblem(dir.file("ro/state.json"))!, /is not usable: .*EACCES/);
      } finally {
        dir.remove();
      }
    },
  );
});

describe("setAside", () => {
  it("renames a file to .bad-<UTC time>, and says when there was nothing to move", () => {
    const dir = makeTempDir();
    try {
      const at = Date.UTC(2026, 11, 2, 6, 15, 50, 123);
      assert.equal(asideName("/x/state.json", at), "/x/state.json.bad-20261202T061550.123Z");
      writeFileSync(dir.file("state.json"), "corrupt");
      assert.equal(
        setAside(dir.file("state.json"), at),
        `${dir.file("state.json")}.bad-20261202T061550.123Z`,
      );
      assert.equal(readRegularFile(`${dir.file("state.json")}.bad-20261202T061550.123Z`), "corrupt");
      assert.equal(setAside(join(dir.path, "missing"), at), undefined);
    } finally {
      dir.remove();
    }
  });
});
