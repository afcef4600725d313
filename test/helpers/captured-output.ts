// Runs a CLI function in this process with what it writes to stdout and stderr captured, for unit tests of
// the commands (the integration tests spawn the CLI instead).

export interface Captured<T> {
  result: T;
  stdout: string;
  stderr: string;
}

/** Awaits run(), with process.stdout.write and process.stderr.write collecting the text meanwhile. */
export async function captureOutput<T>(run: () => T | Promise<T>): Promise<Captured<T>> {
  const written = { stdout: "", stderr: "" };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const name of ["stdout", "stderr"] as const) {
    process[name].write = ((chunk: string | Uint8Array) => {
      written[name] += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
      return true;
    }) as typeof process.stdout.write;
  }
  try {
    return { result: await run(), ...written };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
}
