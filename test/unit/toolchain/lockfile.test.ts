// This npm registry lacks some of bun's and deno's non-Linux platform packages; `npm install` then leaves
// them out of package-lock.json and `npm ci` (CI's install) refuses the lock file as out of sync. The
// entries are kept by hand (os/cpu-restricted, so never fetched here): this test catches their loss.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ROOT } from "../../helpers/runtime.ts";
import { VERSION } from "../../../src/version.ts";

const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, "utf8"));
const manifest = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8"));

describe("package-lock.json", () => {
  it("has an entry for every optional platform package of bun and deno", () => {
    for (const tool of ["bun", "deno"]) {
      const optional = lock.packages[`node_modules/${tool}`]?.optionalDependencies ?? {};
      assert.ok(Object.keys(optional).length > 0, `${tool} lists its platform packages`);
      for (const name of Object.keys(optional)) {
        assert.ok(lock.packages[`node_modules/${name}`], `${name} missing: npm ci would fail`);
      }
    }
  });

  it("pins every direct dependency to an exact version", () => {
    for (const [name, range] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
      assert.match(String(range), /^\d+\.\d+\.\d+$/, `${name}@${range}`);
    }
  });

  it("matches src/version.ts", () => {
    assert.equal(manifest.version, VERSION);
  });
});
