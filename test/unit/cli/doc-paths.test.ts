// Every /usr/share/doc/mailpolicyd path that shipped text names (the man page, the config, the package's
// files, the commands' help, the snippets, the docs) must be a file the .deb installs under that name:
// dh_compress gzips each doc over 4 KB but those debian/rules excludes (-X), and leaves examples/ alone
// (debhelper compat 12+). test/system/package.test.ts checks the same against the installed package.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import { HELP } from "../../../src/cli/help.ts";
import { ROOT } from "../../helpers/runtime.ts";

const DOC = "/usr/share/doc/mailpolicyd/";
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const lines = (path: string) => read(path).split("\n").map((line) => line.trim()).filter(Boolean);

/** Every file below a folder of the source tree, relative to ROOT. */
function filesUnder(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = `${folder}/${entry.name}`;
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

/** The paths under /usr/share/doc/mailpolicyd/ that the package installs, folders with a trailing slash. */
function installedDocs(): Set<string> {
  const rules = read("debian/rules");
  const excluded = rules.split("\n").filter((line) => /^\s+dh_compress\b/.test(line))
    .flatMap((line) => [...line.matchAll(/-X\s*(\S+)/g)].map((match) => match[1]));
  const installed = new Set([DOC]);
  for (const source of lines("debian/mailpolicyd.docs")) {
    const path = `${DOC}${basename(source)}`;
    // find -size +4k: more than four 1 KiB blocks, rounded up.
    const compressed = Math.ceil(statSync(join(ROOT, source)).size / 1024) > 4 &&
      !excluded.some((pattern) => path.includes(pattern));
    installed.add(compressed ? `${path}.gz` : path);
  }
  for (const source of lines("debian/mailpolicyd.examples")) {
    const target = `${DOC}examples/${basename(source)}`;
    for (const file of filesUnder(source)) {
      const path = `${target}${file.slice(source.length)}`;
      for (let slash = path.indexOf("/", DOC.length); slash > 0; slash = path.indexOf("/", slash + 1)) {
        installed.add(path.slice(0, slash + 1));
      }
      installed.add(path);
    }
  }
  return installed;
}

/** The text the package ships, or that the binary prints, by where it comes from. */
function shippedTexts(): Record<string, string> {
  const texts: Record<string, string> = {};
  const debian = readdirSync(join(ROOT, "debian")).filter((name) => name.startsWith("mailpolicyd."));
  for (
    const path of [
      "packaging/mailpolicyd.8",
      "packaging/mailpolicyd.conf",
      "README.md",
      ...debian.map((name) => `debian/${name}`),
      ...filesUnder("packaging/exim"),
      ...lines("debian/mailpolicyd.docs").filter((path) => path.startsWith("docs/")),
    ]
  ) {
    texts[path] = read(path).replace(/\\-/g, "-");
  }
  for (const [command, help] of Object.entries(HELP)) texts[`${command} --help`] = help;
  return texts;
}

describe("the /usr/share/doc/mailpolicyd paths in shipped text", () => {
  it("exist with the names the package installs (X.md.gz, exim.md, examples/)", () => {
    const installed = installedDocs();
    assert.ok(installed.has(`${DOC}exim.md`), [...installed].join(" "));
    assert.ok(installed.has(`${DOC}configuration.md.gz`), [...installed].join(" "));
    const named = new Map<string, string>();
    for (const [where, text] of Object.entries(shippedTexts())) {
      for (const [path] of text.matchAll(/\/usr\/share\/doc\/mailpolicyd\/[\w./-]*[\w/]/g)) {
        named.set(path, `${named.get(path) ?? ""} ${where}`);
      }
    }
    assert.ok(named.size >= 8, [...named.keys()].join(" "));
    for (const [path, where] of named) {
      assert.ok(installed.has(path), `${path} (in${where}) is not installed`);
    }
  });
});
