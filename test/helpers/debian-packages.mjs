// The Debian packages the real-component tests need (test/debian-packages.txt), for test/run.mjs: which
// are missing, and what `npm test` does about them. As root it installs them; as anyone else it cannot,
// and a run that went on would spend minutes before the Exim, package and browser tests failed one by one,
// so it stops at once and says the command that fixes it. Plain JavaScript: run.mjs runs under Node.
import { spawnSync } from "node:child_process";

/**
 * The package names in the text of test/debian-packages.txt (one a line, `#` comments).
 * @param {string} text
 * @returns {string[]}
 */
export function packageNames(text) {
  return text.split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
}

/**
 * Those of `names` that dpkg does not report installed (all of them where there is no dpkg).
 * @param {string[]} names
 * @returns {string[]}
 */
export function missingPackages(names) {
  return names.filter((name) => {
    const status = spawnSync("dpkg-query", ["-W", "-f", "${Status}", name], { encoding: "utf8" });
    return !/install ok installed/.test(status.stdout ?? "");
  });
}

/**
 * Whether the test paths of a run (none: the whole suite) reach the tests that use those packages: all but
 * test/unit/ and test/fuzz/ do.
 * @param {string[]} paths
 */
export function needsPackages(paths) {
  return paths.length === 0 || paths.some((path) => !/^(\.\/)?test\/(unit|fuzz)(\/|$)/.test(path));
}

/**
 * What to do before the tests: run them, install `missing` first (root), or stop with `message`.
 * @param {boolean} isRoot
 * @param {string[]} missing
 * @returns {{ action: "run" } | { action: "install"; missing: string[] } | { action: "stop"; message: string }}
 */
export function packagePlan(isRoot, missing) {
  if (missing.length === 0) return { action: "run" };
  if (isRoot) return { action: "install", missing };
  const names = missing.join(" ");
  return {
    action: "stop",
    message: `npm test: the real-component tests need Debian packages that are not installed: ${names}\n` +
      `Install them, then run npm test again:\n` +
      `  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${names}\n` +
      `or run the tests as root, which installs them:\n` +
      `  sudo npm test\n`,
  };
}
