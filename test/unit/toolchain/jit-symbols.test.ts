// test/bench/jit-symbols.ts: the jitdump reader against a dump built here by the format's layout, and
// against a real dump from Bun (BUN_JSC_useJITDump=1), which must name a function the script compiled.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { codeLoads, perfMap } from "../../bench/jit-symbols.ts";
import { onBun } from "../../../src/runtime.ts";

/** A jitdump: its 40-byte header, then records of (id, body). */
function dump(records: [number, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new DataView(new ArrayBuffer(40));
  header.setUint32(0, 0x4a695444, true);
  header.setUint32(4, 1, true);
  header.setUint32(8, 40, true);
  parts.push(new Uint8Array(header.buffer));
  for (const [id, body] of records) {
    const head = new DataView(new ArrayBuffer(16));
    head.setUint32(0, id, true);
    head.setUint32(4, 16 + body.length, true);
    parts.push(new Uint8Array(head.buffer), body);
  }
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) bytes.set(part, (at += part.length) - part.length);
  return bytes;
}

function codeLoad(address: bigint, size: bigint, name: string): [number, Uint8Array] {
  const nameBytes = new TextEncoder().encode(`${name}\0`);
  const body = new Uint8Array(40 + nameBytes.length + 4); // 4 bytes of "code" after the name
  const view = new DataView(body.buffer);
  view.setBigUint64(8, address, true);
  view.setBigUint64(16, address, true);
  view.setBigUint64(24, size, true);
  body.set(nameBytes, 40);
  return [0, body];
}

describe("jit-symbols", () => {
  it("reads code loads, skips other records, and stops at a record cut short", () => {
    const bytes = dump([
      codeLoad(0x7f0000001000n, 0x180n, "JSC-FTL: check#AbCdEf"),
      [3, new Uint8Array(24)], // a debug-info record: not a load
      codeLoad(0x7f0000000800n, 0x40n, "JSC-DFG: parse#XyZ123"),
    ]);
    const loads = codeLoads(bytes);
    assert.deepEqual(loads.map((load) => load.name), ["JSC-FTL:_check#AbCdEf", "JSC-DFG:_parse#XyZ123"]);
    assert.equal(
      perfMap(loads),
      "7f0000000800 40 JSC-DFG:_parse#XyZ123\n7f0000001000 180 JSC-FTL:_check#AbCdEf\n",
    );
    assert.equal(codeLoads(bytes.subarray(0, bytes.length - 3)).length, 1);
    assert.deepEqual(codeLoads(new Uint8Array(4)), []);
  });

  it("names code recompiled at one address by its last load", () => {
    const loads = codeLoads(dump([codeLoad(0x1000n, 0x10n, "old"), codeLoad(0x1000n, 0x20n, "new")]));
    assert.equal(perfMap(loads), "1000 20 new\n");
  });

  it("names a function Bun compiled, from Bun's own dump", { skip: !onBun }, () => {
    const dir = mkdtempSync(join(tmpdir(), "mailpolicyd-jitdump-"));
    try {
      const script = join(dir, "hot.js");
      writeFileSync(
        script,
        "function hotLoopForJitDump(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; }\n" +
          // At least 20 000 calls and 0.5 s: JavaScriptCore compiles on threads of its own, and on a busy
          // machine a fixed count alone ended before the function's code was loaded (seen once in CI).
          "let t = 0; const until = Date.now() + 500;\n" +
          "for (let i = 0; i < 20000 || Date.now() < until; i++) t += hotLoopForJitDump(500);\n" +
          "console.log(t > 0);\n",
      );
      const run = spawnSync(process.execPath, [script], {
        env: { ...process.env, BUN_JSC_useJITDump: "1" },
        encoding: "utf8",
      });
      assert.equal(run.status, 0, run.stderr);
      const files = readdirSync("/tmp").filter((name) =>
        name.startsWith("jit-") && name.includes(`-${run.pid}-`)
      );
      try {
        assert.ok(files.length > 0, "Bun wrote no jitdump");
        const names = files.flatMap((name) => codeLoads(readFileSync(`/tmp/${name}`))).map((load) =>
          load.name
        );
        assert.ok(names.some((name) => name.includes("hotLoopForJitDump")), names.slice(0, 20).join(" "));
      } finally {
        for (const name of files) rmSync(`/tmp/${name}`, { force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
