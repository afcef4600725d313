// What `npm test` (test/run.mjs) does about the Debian packages of test/debian-packages.txt: installs the
// missing ones as root; as anyone else stops before any test, saying the command to run.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ROOT } from "../../helpers/runtime.ts";
import { missingPackages, needsPackages, packageNames, packagePlan } from "../../helpers/debian-packages.mjs";

describe("npm test's Debian packages", () => {
  it("reads the names of test/debian-packages.txt without its comments", () => {
    const names = packageNames(readFileSync(`${ROOT}test/debian-packages.txt`, "utf8"));
    assert.ok(names.includes("exim4-daemon-heavy") && names.includes("swaks"), names.join(" "));
    assert.ok(names.every((name) => /^[a-z0-9][a-z0-9+.-]+$/.test(name)), names.join(" "));
  });

  it("counts a package dpkg does not know as missing", () => {
    assert.deepEqual(missingPackages(["mailpolicyd-no-such-package"]), ["mailpolicyd-no-such-package"]);
  });

  it("runs the tests when nothing is missing, root or not", () => {
    assert.deepEqual(packagePlan(false, []), { action: "run" });
    assert.deepEqual(packagePlan(true, []), { action: "run" });
  });

  it("installs the missing packages as root", () => {
    assert.deepEqual(packagePlan(true, ["swaks", "monit"]), {
      action: "install",
      missing: ["swaks", "monit"],
    });
  });

  it("stops as non-root, with the exact commands that fix it", () => {
    const plan = packagePlan(false, ["swaks", "monit"]);
    assert.equal(plan.action, "stop");
    const lines = (plan as { message: string }).message.split("\n");
    assert.match(lines[0], /not installed: swaks monit$/);
    assert.ok(
      lines.includes("  sudo apt-get update && sudo apt-get install -y --no-install-recommends swaks monit"),
      lines.join("\n"),
    );
    assert.ok(lines.includes("  sudo npm test"), lines.join("\n"));
  });

  it("needs the packages for the whole suite and for any path outside test/unit and test/fuzz", () => {
    assert.equal(needsPackages([]), true);
    assert.equal(needsPackages(["test/integration"]), true);
    assert.equal(needsPackages(["test/unit", "test/system/package.test.ts"]), true);
    assert.equal(needsPackages(["test/unit", "./test/fuzz/", "test/unit/log.test.ts"]), false);
    assert.equal(needsPackages(["test/unitary"]), true);
  });
});
