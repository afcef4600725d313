// Which runtime runs this test, and how to run a TypeScript entry point with that same runtime, so the
// daemon is exercised under Bun by `bun test` and under Deno by `deno test`.
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const MAIN = `${ROOT}src/main.ts`;
export const isDeno = "Deno" in globalThis;
export const runtimeName = isDeno ? "deno" : "bun";

/** argv that runs `src/main.ts <args>` under the current runtime. */
export function mainCommand(args: string[]): string[] {
  return isDeno ? [process.execPath, "run", "-A", MAIN, ...args] : [process.execPath, MAIN, ...args];
}
