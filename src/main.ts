#!/usr/bin/env bun
// mailpolicyd's entry: the commands are in cli/command-line.ts.
import "./cli/reexec-first.ts"; // first: `run` re-executes before the other modules are evaluated
import { main } from "./cli/command-line.ts";

// No top-level await: `bun build --compile --bytecode` does not allow it.
Promise.resolve(main(process.argv.slice(2))).then((status) => {
  if (status !== "running") process.exit(status);
});
