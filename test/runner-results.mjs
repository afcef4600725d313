// What `bun test` and `deno test` said, read from their output for test/run.mjs: how many passed, how many
// failed, and a name for each failure. Pure (test/unit/toolchain/runner-results.test.ts).
//
// The counts on the runners' last lines miss hooks. When a node:test `before`/`after` hook throws, Bun
// prints "# Unhandled error between tests" and counts it under " N error(s)" only, not under " N fail", and
// still runs the describe's tests, which pass; a file that cannot load counts once under each. Deno fails
// the describe itself (its `it`s do not run), and its last line counts describes and steps (`it`s, nested
// describes) apart, so neither number is the failures: the " FAILURES " list names each one once.

const ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
const plain = (output) => output.replace(ESCAPE, "");

export const lastNumber = (output, pattern) => Number([...output.matchAll(pattern)].pop()?.[1] ?? 0);

/** `bun test`'s output (stdout and stderr together) → { passed, failed, failures: names }. */
export function bunResults(output) {
  const text = plain(output);
  const passed = lastNumber(text, /^\s*(\d+) pass$/gm);
  const failCount = lastNumber(text, /^\s*(\d+) fail$/gm);
  const errorCount = lastNumber(text, /^\s*(\d+) errors?$/gm);
  // Bun prints each "(fail)" line twice: where the test ran and again in its summary of failures.
  const failures = [
    ...new Set([...text.matchAll(/^\(fail\) (.*?)(?: \[[\d.]+m?s\])?$/gm)].map((match) => match[1])),
  ];
  const errors = errorsBetweenTests(text);
  // A file that cannot load is an error with no "(fail)" line but counted under "fail": not twice here.
  const failed = Math.max(failures.length + Math.max(errorCount, errors.length), failCount);
  return { passed, failed, failures: [...failures, ...errors] };
}

/** Bun's "# Unhandled error between tests" blocks, each as "FILE: MESSAGE (error between tests)". */
function errorsBetweenTests(text) {
  const names = [];
  let file = "";
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const header = /^(\S.*\.[cm]?[jt]sx?):$/.exec(lines[i]);
    if (header) file = header[1];
    if (lines[i] !== "# Unhandled error between tests") continue;
    let message = "";
    // The block: a rule of dashes, the source and the error, a rule of dashes.
    for (i += 2; i < lines.length && !/^-+$/.test(lines[i]); i++) {
      if (message === "" && lines[i].startsWith("error: ")) message = lines[i].slice("error: ".length);
    }
    names.push(`${file ? `${file}: ` : ""}${message || "an error"} (error between tests)`);
  }
  return names;
}

/** `deno test`'s output → { passed, failed, failures: names }. */
export function denoResults(output) {
  const text = plain(output);
  // "ok | 3 passed (14 steps) | 0 failed (0 steps)": describes, and the `it`s in them.
  const line = [...text.matchAll(/(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/g)]
    .pop();
  if (!line) return { passed: 0, failed: 0, failures: [] };
  const passed = Number(line[2] ?? line[1]);
  const listed = failuresSection(text);
  const failed = listed.length > 0 ? listed.length : Math.max(Number(line[4] ?? 0), Number(line[3]));
  return { passed, failed, failures: listed };
}

/** The names under Deno's " FAILURES " heading: "describe ... it => ./file.ts:4:1", one a line. */
function failuresSection(text) {
  const start = text.lastIndexOf("\n FAILURES \n");
  if (start < 0) return [];
  const names = [];
  const lines = text.slice(start + "\n FAILURES \n".length).split("\n");
  const first = lines.findIndex((entry) => entry.trim() !== "");
  for (const entry of first < 0 ? [] : lines.slice(first)) {
    if (entry.trim() === "" || /^(ok|FAILED) \|/.test(entry)) break;
    // The location of a failed `it` is inside Deno's node:test shim: only a file's is worth keeping.
    names.push(entry.replace(/ => ext:\S*$/, ""));
  }
  return names;
}
