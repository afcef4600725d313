// Which runtime runs this test, and how to run a TypeScript entry point with that same runtime, so the
// daemon is exercised under Bun by `bun test` and under Deno by `deno test`.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const MAIN = `${ROOT}src/main.ts`;
export const isDeno = "Deno" in globalThis;
export const runtimeName = isDeno ? "deno" : "bun";

/** argv that runs a TypeScript file under the current runtime. */
export function runCommand(file: string, args: string[] = []): string[] {
  return isDeno ? [process.execPath, "run", "-A", file, ...args] : [process.execPath, file, ...args];
}

/** argv that runs `src/main.ts <args>` under the current runtime. */
export function mainCommand(args: string[]): string[] {
  return runCommand(MAIN, args);
}

/** Runs `src/main.ts <args>` (a CLI command) under the current runtime to its end. */
export function runMain(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [command, ...rest] = mainCommand(args);
  const result = spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** runMain without blocking: for a CLI command that talks to a daemon running in this same process. */
export function runMainAsync(
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const [command, ...rest] = mainCommand(args);
  const child = spawn(command, rest, { cwd: ROOT, timeout: 20_000 });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => stdout += chunk);
  child.stderr.on("data", (chunk) => stderr += chunk);
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

/** argv that runs `src/main.ts <args>` under Bun, the runtime of the shipped executable, whoever asks. */
export function bunCommand(args: string[]): string[] {
  return [`${ROOT}node_modules/.bin/bun`, MAIN, ...args];
}
