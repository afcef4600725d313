// The pure modules stay pure (docs/architecture.md, "Layout"): codecs, rules, the SPF evaluator and the
// merge of answers import only each other and a few packages without I/O, never an actor, a socket, a file or a timer,
// so they can be tested as functions and reused by any listener or concern.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));
const PURE_DIRECTORIES = ["model", "protocols", "policy", "spf", "spamd", "content"];
const PURE_FILES = ["engine/answer.ts", "engine/reply.ts", "store/save-pacing.ts", "store/lock-holder.ts"];
// Besides each other: these, which do no I/O (libmime decodes encoded words; mailsplit splits MIME in
// memory, content/ only; node:zlib inflates zip entries, content/ only, and a spamc -z message, in the spamd
// front's codec; node:crypto parses a tls_ca_file's certificates, in model/ca-bundle.ts only).
const ALLOWED_PACKAGES = new Set(["node:buffer", "libmime", "@zone-eu/mailsplit", "node:zlib"]);

const pureFiles = () => [
  ...PURE_DIRECTORIES.flatMap((dir) =>
    readdirSync(join(SRC, dir)).filter((name) => name.endsWith(".ts")).map((name) => `${dir}/${name}`)
  ),
  ...PURE_FILES,
];
const isPure = (file: string) => PURE_FILES.includes(file) || PURE_DIRECTORIES.includes(file.split("/")[0]);

function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), "utf8");
  return [...text.matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map((match) => match[1]);
}

describe("pure modules", () => {
  it("finds the files it checks", () => {
    const files = pureFiles();
    assert.ok(files.includes("policy/rate.ts") && files.includes("spf/check-host.ts"), files.join(" "));
    assert.ok(
      files.includes("content/mime-walk.ts") && files.includes("content/zip-reader.ts"),
      files.join(" "),
    );
  });

  it("import only other pure modules, node:buffer, libmime, in content/ mailsplit and node:zlib, and the CA check node:crypto", () => {
    const wrong: string[] = [];
    for (const file of pureFiles()) {
      for (const target of importsOf(file)) {
        const contentOnly = target === "@zone-eu/mailsplit" || target === "node:zlib";
        const zlibToo = target === "node:zlib" && file === "protocols/spamd-front.ts";
        if (target === "node:crypto" && file === "model/ca-bundle.ts") continue;
        if (ALLOWED_PACKAGES.has(target) && (!contentOnly || file.startsWith("content/") || zlibToo)) {
          continue;
        }
        if (target.startsWith(".") && isPure(relative(SRC, resolve(dirname(join(SRC, file)), target)))) {
          continue;
        }
        wrong.push(`${file} imports ${target}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});
