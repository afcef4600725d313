// The real .deb on this machine, as root: build it (twice, for an upgrade), install it with dpkg, run it
// through the init script, let a real monit restart it after kill -9, reload it with SIGHUP, upgrade it
// keeping a modified conffile and the counters, and purge it leaving nothing behind.
// Runs once (under Bun, from `npm test`): it installs a system package, which two runtimes in a row
// would only repeat.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../helpers/daemon-process.ts";
import { askMany, askPolicy } from "../helpers/policy-client.ts";
import { ROOT } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const SOCKET = "/run/mailpolicyd/policy.sock";
const CONTROL_SOCKET = "/run/mailpolicyd/control.sock";
const PIDFILE = "/run/mailpolicyd/mailpolicyd.pid";
const CONF = "/etc/mailpolicyd/mailpolicyd.conf";
const VERSION = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")).version as string;

function run(command: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(command, args, {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
  return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

function must(command: string, args: string[], env: Record<string, string> = {}): string {
  const result = run(command, args, env);
  assert.equal(result.status, 0, `${command} ${args.join(" ")}:\n${result.output}`);
  return result.output;
}

const pid = () => (existsSync(PIDFILE) ? Number(readFileSync(PIDFILE, "utf8")) : 0);
const alive = (p: number) => {
  try {
    process.kill(p, 0);
    return true;
  } catch {
    return false;
  }
};
const purge = () => run("dpkg", ["--purge", "mailpolicyd"]);

describe("the Debian package (dpkg, init script, monit, upgrade, purge)", () => {
  let dir: TempDir;
  let monit: ChildProcess | undefined;
  const debs: string[] = [];

  before(() => {
    assert.equal(process.getuid?.(), 0, "the package test installs a .deb: it needs root (CI runs as root)");
    dir = makeTempDir();
    purge();
    must(`${ROOT}packaging/build-deb`, []);
    debs.push(`${ROOT}dist/mailpolicyd_${VERSION}_amd64.deb`);
    must(`${ROOT}packaging/build-deb`, [], { DEB_VERSION: `${VERSION}+upgrade1` });
    debs.push(`${ROOT}dist/mailpolicyd_${VERSION}+upgrade1_amd64.deb`);
  });
  after(() => {
    if (monit && monit.exitCode === null) monit.kill("SIGKILL");
    purge();
    dir.remove();
  });

  it("installs the files, the user and its group membership", () => {
    must("dpkg", ["-i", debs[0]]);
    for (
      const file of [
        "/usr/sbin/mailpolicyd",
        CONF,
        "/etc/default/mailpolicyd",
        "/etc/init.d/mailpolicyd",
        "/lib/systemd/system/mailpolicyd.service",
        "/etc/monit/conf-available/mailpolicyd",
        "/etc/logrotate.d/mailpolicyd",
        "/usr/share/man/man8/mailpolicyd.8.gz",
        "/usr/share/doc/mailpolicyd/examples/exim/debian-split/50_mailpolicyd",
        "/usr/share/doc/mailpolicyd/configuration.md.gz",
      ]
    ) assert.ok(existsSync(file), file);
    assert.match(
      must("dpkg-query", ["-W", "-f", "${Conffiles}", "mailpolicyd"]),
      /\/etc\/mailpolicyd\/mailpolicyd\.conf/,
    );
    assert.equal(must("/usr/sbin/mailpolicyd", ["version"]).trim(), `mailpolicyd ${VERSION}`);
    assert.match(must("id", ["mailpolicyd"]), /\(Debian-exim\)/);
    must("/usr/sbin/mailpolicyd", ["config-test", CONF]);
    // No systemd runs here, but its own checker reads the unit: directives, paths, user.
    assert.equal(must("systemd-analyze", ["verify", "/lib/systemd/system/mailpolicyd.service"]).trim(), "");
  });

  it("starts with the init script, answers on the socket as Exim's user would, and reports status", async () => {
    must("/etc/init.d/mailpolicyd", ["start"]);
    await waitFor(() => existsSync(SOCKET), 10_000, "the policy socket");
    const owner = must("stat", ["-c", "%U:%G %a", SOCKET]).trim();
    assert.equal(owner, "mailpolicyd:Debian-exim 660");
    // The control socket has a group of its own: joining it gives `status`, not Exim's files.
    await waitFor(() => existsSync(CONTROL_SOCKET), 10_000, "the control socket");
    assert.equal(must("stat", ["-c", "%U:%G %a", CONTROL_SOCKET]).trim(), "mailpolicyd:mailpolicyd 660");
    const asNobody = (groups: string[]) =>
      run("setpriv", ["--reuid=nobody", "--regid=nogroup", ...groups, "/usr/sbin/mailpolicyd", "status"]);
    const outsider = asNobody(["--clear-groups"]);
    assert.equal(outsider.status, 2, outsider.output);
    assert.equal(
      outsider.output,
      `mailpolicyd: cannot access ${CONTROL_SOCKET}: permission denied (group mailpolicyd, mode 0660). ` +
        "Run as root, or join the group: adduser nobody mailpolicyd, then log in again\n",
    );
    const member = asNobody([`--groups=${must("getent", ["group", "mailpolicyd"]).split(":")[2]}`]);
    assert.equal(member.status, 0, member.output);
    assert.match(member.output, new RegExp(`pid ${pid()}\\b`));
    assert.equal(
      readFileSync(`/proc/${pid()}/status`, "utf8").match(/^Uid:\s+(\d+)/m)?.[1],
      must("id", ["-u", "mailpolicyd"]).trim(),
    );
    const probe = must("runuser", [
      "-u",
      "Debian-exim",
      "--",
      "perl",
      "-MIO::Socket::UNIX",
      "-e",
      `my $s = IO::Socket::UNIX->new(Peer => "${SOCKET}") or die "connect: $!";
       print $s "rcpt sender=probe\\@example.org recipient=x\\@example.net\\n"; $s->shutdown(1); print <$s>;`,
    ]);
    assert.equal(probe.trim(), "action=accept");
    assert.match(must("/etc/init.d/mailpolicyd", ["status"]), /is running/);
    // A second start is harmless.
    must("/etc/init.d/mailpolicyd", ["start"]);
  });

  it("is restarted by a real monit with the shipped check after kill -9", async () => {
    const control = dir.file("monitrc");
    writeFileSync(
      control,
      `set daemon 1\nset pidfile ${dir.file("monit.pid")}\nset logfile ${dir.file("monit.log")}\n` +
        `set idfile ${dir.file("monit.id")}\n` +
        `set statefile ${dir.file("monit.state")}\ninclude /etc/monit/conf-available/mailpolicyd\n`,
    );
    chmodSync(control, 0o600);
    must("monit", ["-t", "-c", control]);
    monit = spawn("monit", ["-I", "-c", control], { stdio: "ignore" });
    await waitFor(
      () =>
        existsSync(dir.file("monit.log")) && /mailpolicyd/.test(readFileSync(dir.file("monit.log"), "utf8")),
      15_000,
      "monit watching",
    );
    // Let monit run its two socket checks (policy probe, control /health) for a few cycles: they must
    // pass (no "failed protocol test", no restart). A wrong expect string does fail here.
    const before = pid();
    await new Promise((resolve) => setTimeout(resolve, 3500));
    const quiet = readFileSync(dir.file("monit.log"), "utf8");
    assert.doesNotMatch(quiet, /failed|restart/i, quiet);
    assert.equal(pid(), before);
    process.kill(before, "SIGKILL");
    await waitFor(() => pid() !== before && alive(pid()), 30_000, "monit to restart mailpolicyd");
    await waitFor(() => existsSync(SOCKET), 10_000, "the socket again");
    assert.equal(await askPolicy(SOCKET, "connect client_address=127.0.0.1\n"), "action=accept");
    assert.match(
      readFileSync(dir.file("monit.log"), "utf8"),
      /'mailpolicyd' (process is not running|trying to restart)/,
    );
    monit.kill("SIGTERM");
  });

  it("applies an edited config on reload (SIGHUP) and refuses a broken one", async () => {
    writeFileSync(CONF, readFileSync(CONF, "utf8").replace("count = 200", "count = 2"));
    must("/etc/init.d/mailpolicyd", ["reload"]);
    await waitFor(
      () => /config reloaded/.test(readFileSync("/var/log/mailpolicyd/mailpolicyd.log", "utf8")),
      10_000,
      "reload",
    );
    const replies = await askMany(SOCKET, "rcpt sender=hup@example.org recipient=x@example.net\n", 3);
    assert.equal(replies[1], "action=accept");
    assert.match(
      replies[2],
      /^action=defer message="hup@example\.org has sent 3 messages in 1h; please try again later" rule=outbound count=3 limit=2$/,
    );

    const good = readFileSync(CONF, "utf8");
    writeFileSync(CONF, good + "\n[nonsense]\n");
    const refused = run("/etc/init.d/mailpolicyd", ["reload"]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.output, /unknown section/);
    writeFileSync(CONF, good);
  });

  it("keeps a modified conffile and the counters across an upgrade", async () => {
    // Counts so far for hup@: 2 counted (the 3rd was deferred, leaky). One more is over the limit of 2.
    must("dpkg", ["-i", debs[1]]);
    assert.match(readFileSync(CONF, "utf8"), /count = 2\n/, "the edited conffile stays");
    assert.match(must("dpkg-query", ["-W", "-f", "${Version}", "mailpolicyd"]), /\+upgrade1$/);
    // policy-rc.d (containers) keeps postinst from restarting it: restart by hand, as the admin would.
    must("/etc/init.d/mailpolicyd", ["restart"]);
    await waitFor(() => existsSync(SOCKET), 10_000, "the socket after the upgrade");
    assert.match(
      await askPolicy(SOCKET, "rcpt sender=hup@example.org recipient=y@example.net\n"),
      /^action=defer .*count=3 limit=2$/,
    );
    assert.equal(
      await askPolicy(SOCKET, "rcpt sender=new@example.org recipient=y@example.net\n"),
      "action=accept",
    );
  });

  it("stops, and on purge leaves no file, no user and no process", () => {
    must("/etc/init.d/mailpolicyd", ["stop"]);
    assert.equal(existsSync(SOCKET), false, "the daemon removed its socket");
    must("/etc/init.d/mailpolicyd", ["start"]); // running again: purge must stop it itself
    must("dpkg", ["--purge", "mailpolicyd"]);
    for (
      const path of [
        "/usr/sbin/mailpolicyd",
        "/etc/mailpolicyd",
        "/etc/init.d/mailpolicyd",
        "/etc/default/mailpolicyd",
        "/var/lib/mailpolicyd",
        "/var/log/mailpolicyd",
        "/run/mailpolicyd",
        "/etc/monit/conf-available/mailpolicyd",
      ]
    ) {
      assert.equal(existsSync(path), false, `${path} left behind`);
    }
    assert.notEqual(run("id", ["mailpolicyd"]).status, 0, "user removed");
    assert.notEqual(run("getent", ["group", "mailpolicyd"]).status, 0, "group removed");
    assert.equal(
      run("pgrep", ["-u", "0", "-x", "mailpolicyd"]).status !== 0 &&
        run("pgrep", ["-x", "mailpolicyd"]).status !== 0,
      true,
      "no process",
    );
  });
});
