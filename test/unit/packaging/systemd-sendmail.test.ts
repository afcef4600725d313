// `sendmail = /usr/sbin/sendmail` alerts under the packaged systemd unit: Exim's sendmail is setuid root,
// switches to Debian-exim (setgroups, setuid) and writes /var/spool/exim4 and /var/log/exim4. Checked as
// the daemon's user with setpriv and a read-only /var: NoNewPrivileges=yes ignores the setuid bit, an
// empty capability bounding set makes setgroups() fail ("Operation not permitted"), and
// ProtectSystem=strict makes the spool read-only ("Failed to create spool file"). docs/debian.md gives a
// drop-in: the unit with that drop-in applied (systemd's merge rules) must lift all three.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

const UNIT = readFileSync(new URL("../../../debian/mailpolicyd.service", import.meta.url), "utf8");
const DEBIAN_MD = readFileSync(new URL("../../../docs/debian.md", import.meta.url), "utf8");

/** The [Service] assignments of a unit or drop-in, in order. */
const assignments = (text: string): [string, string][] =>
  text.split("\n").map((line) => line.trim()).filter((line) => /^[A-Za-z]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]);

// Directives that add up when repeated (an empty assignment resets them); others: the last one wins.
const LISTS = new Set(["CapabilityBoundingSet", "ReadWritePaths"]);

function effective(...texts: string[]): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const [key, value] of texts.flatMap(assignments)) {
    const words = value.split(/\s+/).filter(Boolean);
    if (LISTS.has(key) && words.length > 0) settings.set(key, [...settings.get(key) ?? [], ...words]);
    else settings.set(key, words);
  }
  return settings;
}

/** The drop-in debian.md writes for sendmail alerts, from its `printf '…' > …/sendmail-alerts.conf`. */
function sendmailDropIn(): string {
  const printf = /printf '([^']*)'[\s\\]*>\s*\S*mailpolicyd\.service\.d\/sendmail-alerts\.conf/.exec(
    DEBIAN_MD,
  );
  assert.ok(printf, "docs/debian.md: no drop-in for sendmail alerts");
  return printf[1].replaceAll("\\n", "\n");
}

describe("systemd unit: sendmail alerts through Exim's setuid binary", () => {
  it("are blocked by the unit as shipped (so the docs must say what to lift)", () => {
    const unit = effective(UNIT);
    assert.deepEqual(unit.get("NoNewPrivileges"), ["yes"]);
    assert.deepEqual(unit.get("CapabilityBoundingSet"), []);
    assert.deepEqual(unit.get("ProtectSystem"), ["strict"]);
  });

  it("work with debian.md's drop-in: setuid allowed, setuid/setgid kept, Exim's spool and log writable", () => {
    const dropIn = sendmailDropIn();
    assert.match(dropIn, /^\[Service\]\n/);
    const settings = effective(UNIT, dropIn);
    assert.deepEqual(settings.get("NoNewPrivileges"), ["no"]);
    for (const capability of ["CAP_SETUID", "CAP_SETGID"]) {
      assert.ok(settings.get("CapabilityBoundingSet")?.includes(capability), capability);
    }
    for (const path of ["/var/spool/exim4", "/var/log/exim4"]) {
      assert.ok(settings.get("ReadWritePaths")?.includes(path), path);
    }
    // What the drop-in keeps: the rest of the sandbox.
    assert.deepEqual(settings.get("ProtectSystem"), ["strict"]);
    assert.deepEqual(settings.get("PrivateDevices"), ["yes"]);
  });
});
