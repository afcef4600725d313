// JavaScriptCore lets its heap double between collections while the heap is under a quarter of the
// host's RAM, so on a roomy host a daemon holding a million keys kept ~370 bytes of RSS per key for
// ~160 live (measured: docs/decisions.md, "Memory"). And its "warm-up" thread pre-faults heap blocks that
// the collector has just handed back to the kernel: on a two-core host, busy with the MTA's connections
// too, that CPU came out of the answers (docs/decisions.md, "block warm-up thread"). Bun's mimalloc hands
// pages freed for 10 ms back to the kernel, and a request's garbage soon faults them in again: a second
// keeps them for the next requests and still returns what a burst left (docs/decisions.md, "mimalloc's
// purge delay"). All can only be set
// through the environment before the VM starts, so `run` re-executes itself once with them set: execve,
// so the PID that start-stop-daemon, systemd and monit track stays the same. Bun only; when the
// administrator exported any of them (say BUN_JSC_smallHeapGrowthFactor=2 for JSC's own default), the
// environment is left as it is.

import { execve, onBun } from "../runtime.ts";

export const HEAP_TUNING_ENV: Readonly<Record<string, string>> = {
  BUN_JSC_smallHeapGrowthFactor: "1.25",
  BUN_JSC_mediumHeapGrowthFactor: "1.25",
  BUN_JSC_useWarmUpMarkedBlocks: "0",
  MIMALLOC_PURGE_DELAY: "1000",
};

/** The argv for re-running this process: a compiled executable carries its script inside. */
export function reexecArguments(execPath: string, argv: string[], execArgv: string[]): string[] {
  const compiled = argv[1]?.startsWith("/$bunfs/") ?? false;
  return compiled ? [execPath, ...argv.slice(2)] : [execPath, ...execArgv, ...argv.slice(1)];
}

/** Replaces this process with itself plus the heap settings; returns (doing nothing) when not needed. */
export function reexecWithHeapTuning(): void {
  if (!onBun || !execve) return;
  if (Object.keys(HEAP_TUNING_ENV).some((name) => process.env[name] !== undefined)) return;
  try {
    execve(
      process.execPath,
      reexecArguments(process.execPath, process.argv, process.execArgv),
      { ...process.env, ...HEAP_TUNING_ENV },
    );
  } catch (error) {
    // Still a working daemon, only with the runtime's default heap settings.
    process.stderr.write(`mailpolicyd: cannot re-execute with heap settings: ${(error as Error).message}\n`);
  }
}
