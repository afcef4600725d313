// JavaScriptCore lets its heap double between collections while the heap is under a quarter of the
// host's RAM, so on a roomy host a daemon holding a million keys kept ~370 bytes of RSS per key for
// ~160 live (measured: docs/decisions.md, "Memory"). Its growth factors can only be set through the
// environment before the VM starts, so `run` re-executes itself once with them set: execve, so the PID
// that start-stop-daemon, systemd and monit track stays the same. Bun only; a value the administrator
// exported (say BUN_JSC_smallHeapGrowthFactor=2 for JSC's own default) is left alone.

export const HEAP_GROWTH_ENV: Readonly<Record<string, string>> = {
  BUN_JSC_smallHeapGrowthFactor: "1.25",
  BUN_JSC_mediumHeapGrowthFactor: "1.25",
};

/** The argv for re-running this process: a compiled executable carries its script inside. */
export function reexecArguments(execPath: string, argv: string[], execArgv: string[]): string[] {
  const compiled = argv[1]?.startsWith("/$bunfs/") ?? false;
  return compiled ? [execPath, ...argv.slice(2)] : [execPath, ...execArgv, ...argv.slice(1)];
}

/** Replaces this process with itself plus the heap settings; returns (doing nothing) when not needed. */
export function reexecWithHeapTuning(): void {
  // deno-lint-ignore no-explicit-any
  const execve = (process as any).execve as
    | ((file: string, args: string[], env: Record<string, string | undefined>) => never)
    | undefined;
  if (!("Bun" in globalThis) || typeof execve !== "function") return;
  if (Object.keys(HEAP_GROWTH_ENV).some((name) => process.env[name] !== undefined)) return;
  try {
    execve.call(
      process,
      process.execPath,
      reexecArguments(process.execPath, process.argv, process.execArgv),
      { ...process.env, ...HEAP_GROWTH_ENV },
    );
  } catch (error) {
    // Still a working daemon, only with the runtime's default heap growth.
    process.stderr.write(`mailpolicyd: cannot re-execute with heap settings: ${(error as Error).message}\n`);
  }
}
