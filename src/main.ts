#!/usr/bin/env bun
// mailpolicyd's entry: the commands are in cli/command-line.ts, loaded only after `run` has re-executed
// itself with the heap settings (cli/heap-tuning.ts), so that the daemon loads its modules once, not twice
// (docs/decisions.md, "Startup: the modules loaded once").
import { reexecWithHeapTuning } from "./cli/heap-tuning.ts";

const argv = process.argv.slice(2);
if (argv[0] === "run") reexecWithHeapTuning();

// No top-level await: `bun build --compile --bytecode` does not allow it.
import("./cli/command-line.ts").then(({ main }) => main(argv)).then((status) => {
  if (status !== "running") process.exit(status);
});
