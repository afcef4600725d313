// Imported first by src/main.ts, for its side effect. ES modules are evaluated in the order they are
// imported, so `run` re-executes itself with the heap settings (heap-tuning.ts) here, before the daemon's
// ~370 other modules are evaluated: else they would be evaluated twice, once only to re-execute
// (docs/decisions.md, "Startup: the modules loaded once").
import { reexecWithHeapTuning } from "./heap-tuning.ts";

if (process.argv[2] === "run") reexecWithHeapTuning();
