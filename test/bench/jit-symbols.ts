// Names for the JIT's code in `perf report`: reads the jitdump files JavaScriptCore writes when the process
// runs with BUN_JSC_useJITDump=1 (/tmp/jit-TID-PID-XXXXXX, one per compiling thread) and writes
// /tmp/perf-PID.map, the "START SIZE NAME" map perf reads by itself for anonymous code. `perf inject --jit`
// does not work here: it only recognises files named jit-PID.dump. docs/decisions.md, "The JIT's code by
// name".
//
// Usage, against a daemon run from source (the compiled executable's bytecode cache leaves every name
// "<name not materialized>"):
//   BUN_JSC_useJITDump=1 bun src/main.ts run --config FILE &
//   perf record -F 2000 -g -p PID -o perf.data -- sleep 5     # under load
//   bun test/bench/jit-symbols.ts PID                        # after the load: code compiled late counts
//   perf report -i perf.data --no-children --sort dso,sym
// The jitdump format: tools/perf/Documentation/jitdump-specification.txt in Linux's sources.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

const JIT_CODE_LOAD = 0;
const HEADER_SIZE_AT = 8; // magic u32, version u32, header size u32
const RECORD_HEAD = 16; // id u32, total size u32, timestamp u64
const LOAD_FIXED = 40; // pid u32, tid u32, vma u64, code address u64, code size u64, code index u64

export interface CodeLoad {
  address: bigint;
  size: bigint;
  name: string;
}

/** The code loads in one jitdump file's bytes; a record cut short (the process still writing) ends it. */
export function codeLoads(bytes: Uint8Array): CodeLoad[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const loads: CodeLoad[] = [];
  if (bytes.length < HEADER_SIZE_AT + 4) return loads;
  const decoder = new TextDecoder();
  for (let at = view.getUint32(HEADER_SIZE_AT, true); at + RECORD_HEAD <= bytes.length;) {
    const id = view.getUint32(at, true);
    const size = view.getUint32(at + 4, true);
    if (size < RECORD_HEAD || at + size > bytes.length) break;
    if (id === JIT_CODE_LOAD && size >= RECORD_HEAD + LOAD_FIXED) {
      const fixed = at + RECORD_HEAD;
      const nameAt = fixed + LOAD_FIXED;
      const nameEnd = bytes.indexOf(0, nameAt);
      loads.push({
        address: view.getBigUint64(fixed + 16, true),
        size: view.getBigUint64(fixed + 24, true),
        name: decoder.decode(bytes.subarray(nameAt, nameEnd < 0 ? at + size : nameEnd)).replaceAll(" ", "_"),
      });
    }
    at += size;
  }
  return loads;
}

/** perf's map text for the loads: the last code loaded at an address names it. */
export function perfMap(loads: CodeLoad[]): string {
  const byAddress = new Map<bigint, CodeLoad>();
  for (const load of loads) byAddress.set(load.address, load);
  return [...byAddress.values()].sort((a, b) => (a.address < b.address ? -1 : 1))
    .map((load) => `${load.address.toString(16)} ${load.size.toString(16)} ${load.name}\n`).join("");
}

if (import.meta.main) {
  const pid = process.argv[2];
  if (!pid || !/^\d+$/.test(pid)) {
    process.stderr.write("usage: jit-symbols.ts PID\n");
    process.exit(64);
  }
  const files = readdirSync("/tmp").filter((name) => name.startsWith("jit-") && name.includes(`-${pid}-`));
  if (files.length === 0) {
    process.stderr.write(
      `no /tmp/jit-*-${pid}-* files: was the process started with BUN_JSC_useJITDump=1?\n`,
    );
    process.exit(66);
  }
  const loads = files.flatMap((name) => codeLoads(readFileSync(`/tmp/${name}`)));
  writeFileSync(`/tmp/perf-${pid}.map`, perfMap(loads));
  process.stdout.write(`/tmp/perf-${pid}.map: ${loads.length} code loads from ${files.length} files\n`);
}
