// The real .deb on this machine, as root: build it (twice, for an upgrade), install it with dpkg, run it
// through the init script, let a real monit restart it after kill -9, reload it with SIGHUP, upgrade it
// keeping a modified conffile and the counters, remove and reinstall it under a real monit watching it
// through the enabled check, add it to this machine's real Debian Exim configuration
// with `mailpolicyd exim-setup --add`, and purge it leaving nothing behind: Exim's and monit's
// configurations valid, Exim delivering mail intact. /etc/exim4 is restored at the end.
// Runs once (under Bun, from `npm test`): it installs a system package, which two runtimes in a row
// would only repeat.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { after, before, describe, it } from "node:test";
import { SECTIONS } from "../../src/config/schema.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type EximDaemon, startEximDaemon, swaks } from "../helpers/exim.ts";
import { askMany, askPolicy } from "../helpers/policy-client.ts";
import { processesRunning } from "../helpers/processes.ts";
import { ROOT } from "../helpers/runtime.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const SOCKET = "/run/mailpolicyd/policy.sock";
const CONTROL_SOCKET = "/run/mailpolicyd/control.sock";
const MONIT_LINK = "/etc/monit/conf-enabled/mailpolicyd";
const MONIT_PIDFILE = "/run/monit.pid";
// Debian's exim4-config delivers mail for local users to /var/mail/USER (mbox).
const MAILBOX = "/var/mail/mail";
const PIDFILE = "/run/mailpolicyd/mailpolicyd.pid";
const CONF = "/etc/mailpolicyd/mailpolicyd.conf";
const BINARY = "/usr/sbin/mailpolicyd";
const LOG = "/var/log/mailpolicyd/mailpolicyd.log";
const VERSION = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")).version as string;

function run(command: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(command, args, {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
  const [stdout, stderr] = [result.stdout ?? "", result.stderr ?? ""];
  return { status: result.status, output: `${stdout}${stderr}`, stdout, stderr };
}

function must(command: string, args: string[], env: Record<string, string> = {}): string {
  const result = run(command, args, env);
  assert.equal(result.status, 0, `${command} ${args.join(" ")}:\n${result.output}`);
  return result.output;
}

const pid = () => (existsSync(PIDFILE) ? Number(readFileSync(PIDFILE, "utf8")) : 0);
// Never signals 0 or less: kill(0) is this test's own process group, and kill(-1) every process it may
// signal. With no daemon (a case failed before its pidfile was written) pid() is 0, and a later case's
// `kill -9` of it took the test run and the CI script that started it down without a word.
const alive = (p: number) => {
  if (!(p > 0)) return false;
  try {
    process.kill(p, 0);
    return true;
  } catch {
    return false;
  }
};
const purge = () => run("dpkg", ["--purge", "mailpolicyd"]);
// The installed postinst as dpkg runs it for an upgrade, where systemd seems to run: a mount namespace gives
// /run/systemd/system, which is how debhelper's scripts and invoke-rc.d tell (no systemd runs here).
const postinstUnderSystemd = () =>
  run("unshare", [
    "-m",
    "sh",
    "-c",
    "mount -t tmpfs none /run/systemd && mkdir /run/systemd/system && " +
    "exec sh /var/lib/dpkg/info/mailpolicyd.postinst configure 0.1.0",
  ]);

// Lines long enough that a log line written over the start of the body (Exim's readsocket hazard, see
// docs/exim.md) could not go unnoticed.
const BODY = Array.from({ length: 6 }, (_, i) => `line ${i + 1} of a body that must arrive byte for byte`)
  .join("\n");

/** The body of the message with `subject` in the mbox, and Exim's id for it (from its Received header). */
function delivered(subject: string): { body: string; id: string } | undefined {
  const text = existsSync(MAILBOX) ? readFileSync(MAILBOX, "utf8") : "";
  const message = text.split(/^From /m).find((part) => part.includes(`\nSubject: ${subject}\n`));
  if (!message) return undefined;
  const split = message.indexOf("\n\n");
  return {
    body: message.slice(split + 2).replace(/\n+$/, ""),
    id: message.slice(0, split).match(/^\s+id (\S+)/m)?.[1] ?? "",
  };
}

const isLink = (path: string) => {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
};

/** Every file under `root` whose name or content mentions mailpolicyd. */
function mentionsOfMailpolicyd(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .map((name) => `${root}/${name}`)
    .filter((path) =>
      path.includes("mailpolicyd") ||
      (statSync(path).isFile() && readFileSync(path, "utf8").includes("mailpolicyd"))
    );
}

/**
 * The same package under another version, for the upgrade tests: its tree unpacked and packed again with
 * only the control file's Version changed. A second `build-deb` (dpkg-buildpackage, xz, lintian) took about
 * a minute of every CI run for the same files; `DEB_VERSION` still builds a real one by hand.
 */
function repackedAsVersion(deb: string, version: string, dir: TempDir): string {
  const tree = dir.file(`tree-${version}`);
  must("dpkg-deb", ["--raw-extract", deb, tree]);
  const control = `${tree}/DEBIAN/control`;
  const fields = readFileSync(control, "utf8");
  assert.match(fields, /^Version: /m);
  writeFileSync(control, fields.replace(/^Version: .*$/m, `Version: ${version}`));
  const repacked = dir.file(`mailpolicyd_${version}_amd64.deb`);
  must("dpkg-deb", ["-Zgzip", "-z1", "--root-owner-group", "--build", tree, repacked]);
  rmSync(tree, { recursive: true });
  return repacked;
}

describe("the Debian package (dpkg, init script, monit, upgrade, purge)", () => {
  let dir: TempDir;
  let monit: ChildProcess | undefined;
  let exim: EximDaemon | undefined;
  let mailboxSize: number | undefined;
  const debs: string[] = [];

  before(() => {
    assert.equal(process.getuid?.(), 0, "the package test installs a .deb: it needs root (CI runs as root)");
    dir = makeTempDir();
    purge();
    // This machine's Exim configuration and mailbox, put back at the end whatever happens.
    must("cp", ["-a", "/etc/exim4", dir.file("etc-exim4")]);
    must("cp", ["-a", "/var/lib/exim4/config.autogenerated", dir.file("config.autogenerated")]);
    mailboxSize = existsSync(MAILBOX) ? statSync(MAILBOX).size : undefined;
    // Packed with gzip -1, as the upgrade's copy is: the shipped package's xz took ~40 s of every CI run,
    // and dpkg unpacks either alike (docs/decisions.md, "The package test's build").
    must(`${ROOT}packaging/build-deb`, [], {
      DPKG_DEB_COMPRESSOR_TYPE: "gzip",
      DPKG_DEB_COMPRESSOR_LEVEL: "1",
    });
    debs.push(`${ROOT}dist/mailpolicyd_${VERSION}_amd64.deb`);
    debs.push(repackedAsVersion(debs[0], `${VERSION}+upgrade1`, dir));
  });
  after(async () => {
    if (monit && monit.exitCode === null) {
      monit.kill("SIGKILL");
      // Killed, it leaves its pidfile, which the next run would take for a monit running here.
      if (existsSync(MONIT_PIDFILE) && Number(readFileSync(MONIT_PIDFILE, "utf8")) === monit.pid) {
        rmSync(MONIT_PIDFILE);
      }
    }
    await exim?.stop();
    purge();
    rmSync(MONIT_LINK, { force: true });
    rmSync("/etc/exim4", { recursive: true, force: true });
    must("cp", ["-a", dir.file("etc-exim4"), "/etc/exim4"]);
    must("cp", ["-a", dir.file("config.autogenerated"), "/var/lib/exim4/config.autogenerated"]);
    if (mailboxSize === undefined) rmSync(MAILBOX, { force: true });
    else truncateSync(MAILBOX, mailboxSize);
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
    // It may hold a Redis password: root and the daemon's group only (configuration.md, [redis]).
    assert.equal(must("stat", ["-c", "%U:%G %a", CONF]).trim(), "root:mailpolicyd 640");
    // The snippets point at a doc the package ships, under the name they give.
    const snippet = readFileSync(
      "/usr/share/doc/mailpolicyd/examples/exim/debian-split/50_mailpolicyd",
      "utf8",
    );
    const doc = snippet.match(/see (\/usr\/share\/doc\/\S+?)\.?$/m)?.[1];
    assert.ok(doc && existsSync(doc), `the snippets' doc ${doc}`);
    // Every doc path the man page, the config, /etc/default and the commands' help name is shipped under
    // that name (dh_compress gzips all but exim.md).
    const texts = [
      must("zcat", ["/usr/share/man/man8/mailpolicyd.8.gz"]).replace(/\\-/g, "-"),
      readFileSync(CONF, "utf8"),
      readFileSync("/etc/default/mailpolicyd", "utf8"),
      ...["exim-snippet", "postfix-snippet", "config-test"].map((command) =>
        must("/usr/sbin/mailpolicyd", [command, "--help"])
      ),
    ];
    const named = new Set(
      texts.flatMap((text) => text.match(/\/usr\/share\/doc\/mailpolicyd\/[\w./-]*\w/g) ?? []),
    );
    assert.ok(named.size >= 5, [...named].join(" "));
    for (const path of named) assert.ok(existsSync(path), `named but not shipped: ${path}`);
    assert.match(
      must("dpkg-query", ["-W", "-f", "${Conffiles}", "mailpolicyd"]),
      /\/etc\/mailpolicyd\/mailpolicyd\.conf/,
    );
    assert.equal(must("/usr/sbin/mailpolicyd", ["version"]).trim(), `mailpolicyd ${VERSION}`);
    // Exim asks over TCP: the daemon needs no share of Exim's group (its queue, passwd.client).
    assert.doesNotMatch(must("id", ["mailpolicyd"]), /\(Debian-exim\)/);
    must("/usr/sbin/mailpolicyd", ["config-test", CONF]);
    // No systemd runs here, but its own checker reads the unit: directives, paths, user. It also reads the
    // machine's other units and warns about theirs (policyd-rate-limit's `StandardOutput=syslog`): only
    // what it says about this package's counts.
    const verified = must("systemd-analyze", ["verify", "/lib/systemd/system/mailpolicyd.service"]);
    assert.deepEqual(verified.split("\n").filter((line) => line.includes("mailpolicyd")), []);
  });

  it("starts with the init script, answers on the socket as Exim's user would, and reports status", async () => {
    must("/etc/init.d/mailpolicyd", ["start"]);
    await waitFor(() => existsSync(SOCKET), 10_000, "the policy socket");
    const owner = must("stat", ["-c", "%U:%G %a", SOCKET]).trim();
    assert.equal(owner, "mailpolicyd:mailpolicyd 660");
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
      "-MIO::Socket::INET",
      "-e",
      `my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:10037") or die "connect: $!";
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
    // Stopped however the test ends: left running, it restarted the daemon under the tests after this one.
    try {
      await waitFor(
        () =>
          existsSync(dir.file("monit.log")) &&
          /mailpolicyd/.test(readFileSync(dir.file("monit.log"), "utf8")),
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
      assert.ok(alive(before), `a running daemon in ${PIDFILE}`);
      process.kill(before, "SIGKILL");
      await waitFor(() => pid() !== before && alive(pid()), 30_000, "monit to restart mailpolicyd");
      // The killed daemon's socket file is still there until the new one binds its own, and the new one
      // writes its pidfile before it listens: asked at once, the stale file refused the connection.
      let answer = "";
      for (const start = Date.now(); answer === "" && Date.now() - start < 10_000;) {
        answer = await askPolicy(SOCKET, "connect client_address=127.0.0.1\n").catch(() => "");
        if (answer === "") await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(answer, "action=accept");
      assert.match(
        readFileSync(dir.file("monit.log"), "utf8"),
        /'mailpolicyd' (process is not running|trying to restart)/,
      );
    } finally {
      monit.kill("SIGTERM");
    }
  });

  it("starts after kill -9 left its pidfile naming a PID that another process has by now", async () => {
    const killed = pid();
    assert.ok(alive(killed), `a running daemon in ${PIDFILE}`);
    process.kill(killed, "SIGKILL");
    await waitFor(() => !alive(killed), 10_000, "the daemon to die");
    // On a busy mail host the kernel soon gives that PID to another process, often one of Exim's.
    const other = spawn("setpriv", [
      "--reuid=Debian-exim",
      "--regid=Debian-exim",
      "--clear-groups",
      "sleep",
      "300",
    ], {
      stdio: "ignore",
    });
    const state = "/var/lib/mailpolicyd/state.json";
    const logSize = statSync(LOG).size;
    try {
      writeFileSync(PIDFILE, `${other.pid}\n`);
      // Before: "already running, not starting a second instance" in the log, while start said ok.
      must("/etc/init.d/mailpolicyd", ["start"]);
      await waitFor(() => pid() !== other.pid && alive(pid()), 10_000, "a new daemon in the pidfile");
      // kill -9 left the old socket file: wait until the new daemon has bound it in its place.
      await waitFor(
        () => /policy: listening/.test(readFileSync(LOG, "utf8").slice(logSize)),
        10_000,
        "the new daemon listening",
      );
      assert.equal(await askPolicy(SOCKET, "connect client_address=127.0.0.1\n"), "action=accept");
      assert.match(must("/etc/init.d/mailpolicyd", ["status"]), /is running/);

      // The same pidfile and a daemon that cannot start (a state file its user may not read, as one left by
      // root's `mailpolicyd run` would be; a directory there is the config's error now, which the script's
      // config check says before it starts anything): start must say so, not take the other process for
      // the daemon. Before: exit 0 with nothing running.
      must("/etc/init.d/mailpolicyd", ["stop"]);
      const owner = statSync(state);
      chownSync(state, 0, 0);
      chmodSync(state, 0o600);
      writeFileSync(PIDFILE, `${other.pid}\n`);
      try {
        const failed = run("/etc/init.d/mailpolicyd", ["start"]);
        assert.equal(failed.status, 1, failed.output);
        assert.match(failed.output, /mailpolicyd did not start/);
        assert.match(readFileSync(LOG, "utf8"), /state_file cannot be read: EACCES/);
      } finally {
        chownSync(state, owner.uid, owner.gid);
        chmodSync(state, owner.mode & 0o7777);
        rmSync(PIDFILE, { force: true });
      }
      must("/etc/init.d/mailpolicyd", ["start"]);
      await waitFor(() => existsSync(SOCKET), 10_000, "the socket again");
    } finally {
      other.kill("SIGKILL");
    }
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
      /^action=defer message="hup@example\.org has sent 2 messages in 1h; please try again later" rule=outbound count=2 limit=2$/,
    );

    // A broken config: each error on a line of its own as FILE:LINE: key: problem, then what was not
    // done; exit 1; the daemon goes on with the config it has.
    const good = readFileSync(CONF, "utf8");
    const running = pid();
    const broken = good.replace("count = 2\n", "count = many\n") + "\n[nonsense]\n";
    writeFileSync(CONF, broken);
    try {
      const line = (text: string) => broken.split("\n").indexOf(text) + 1;
      const refused = run("/etc/init.d/mailpolicyd", ["reload"]);
      assert.equal(refused.status, 1, refused.output);
      assert.deepEqual(
        refused.stderr.trimEnd().split("\n").sort(),
        [
          `${CONF}:${line("[nonsense]")}: [nonsense]: unknown section (known: ${
            Object.keys(SECTIONS).join(", ")
          }, limit NAME, rule NAME)`,
          `${CONF}:${line("count = many")}: limit outbound.count: expected a whole number`,
        ].sort(),
      );
      assert.match(
        refused.stdout,
        /^mailpolicyd: \/etc\/mailpolicyd\/mailpolicyd\.conf has errors, not reloading \(the running daemon keeps its configuration\)[^\n]*\n$/,
      );
      assert.equal(pid(), running);
      const kept = await askMany(SOCKET, "rcpt sender=kept@example.org recipient=x@example.net\n", 3);
      assert.match(kept[2], /^action=defer .*limit=2$/, "the limit of 2 still applies");
    } finally {
      writeFileSync(CONF, good); // the later steps need it whatever happened here
    }
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
      /^action=defer .*count=2 limit=2$/,
    );
    assert.equal(
      await askPolicy(SOCKET, "rcpt sender=new@example.org recipient=y@example.net\n"),
      "action=accept",
    );
  });

  it("refuses to configure an upgrade under systemd while the config has errors, the daemon left running", () => {
    // debhelper restarts a systemd unit with `deb-systemd-invoke restart … || true`: systemd stops the
    // daemon, ExecStartPre's config-test fails, and the upgrade succeeded with no daemon (Exim failing open).
    // No systemd runs here: postinstUnderSystemd.
    const good = readFileSync(CONF, "utf8");
    const running = pid();
    writeFileSync(CONF, `${good}\n[nonsense]\n`);
    try {
      const postinst = postinstUnderSystemd();
      assert.equal(postinst.status, 1, postinst.output);
      assert.match(postinst.stderr, /mailpolicyd\.conf:\d+: \[nonsense\]: unknown section/);
      assert.match(
        postinst.stderr,
        /mailpolicyd: \/etc\/mailpolicyd\/mailpolicyd\.conf has errors \(above\): not restarted, the running daemon keeps its configuration; fix it, then run dpkg --configure -a/,
      );
      assert.equal(pid(), running);
      assert.equal(alive(running), true, "the daemon still runs");
    } finally {
      writeFileSync(CONF, good);
    }
    // Fixed, the same run configures (the restart itself goes to systemctl, absent here: `|| true`).
    const fixed = postinstUnderSystemd();
    assert.equal(fixed.status, 0, fixed.output);
    assert.equal(pid(), running);
  });

  it("takes its enabled monit check out of a real monit on dpkg -r, and a reinstall enables it again", async () => {
    // The maintainer scripts tell Debian's monit through `monit reload`, which signals the PID in the
    // pidfile that /etc/monit/monitrc gives (none set: /run/monit.pid). This monit uses that pidfile.
    assert.equal(existsSync(MONIT_PIDFILE), false, `${MONIT_PIDFILE}: a monit runs here already`);
    symlinkSync("../conf-available/mailpolicyd", MONIT_LINK); // as README says
    const control = dir.file("monitrc-enabled");
    writeFileSync(
      control,
      `set daemon 1\nset pidfile ${MONIT_PIDFILE}\nset logfile ${dir.file("monit-enabled.log")}\n` +
        `set idfile ${dir.file("monit.id")}\nset statefile ${dir.file("monit-enabled.state")}\n` +
        // Its own HTTP interface, for `monit summary`: Debian's monitrc has none.
        `set httpd unixsocket ${dir.file("monit.sock")} allow monit:summary\n` +
        "include /etc/monit/conf-enabled/*\n",
    );
    chmodSync(control, 0o600);
    monit = spawn("monit", ["-I", "-c", control], { stdio: "ignore" });
    const watched = () => run("monit", ["-B", "-c", control, "summary"]).output;
    await waitFor(() => /mailpolicyd\s+OK/.test(watched()), 15_000, "monit watching mailpolicyd");
    const daemon = pid();

    const removed = must("dpkg", ["-r", "mailpolicyd"]);
    // Before: the check stayed, and once the daemon had stopped monit ran the removed package's start
    // program every cycle (20 s for the init script that exits 0 without its binary, then "failed to start
    // (exit status -1)" once postrm had made it non-executable), an alert each time, until "restarted 5
    // times ... unmonitor".
    await waitFor(
      () => !watched().includes("mailpolicyd"),
      10_000,
      `monit to forget mailpolicyd:\n${removed}`,
    );
    assert.equal(isLink(MONIT_LINK), false, "the link is gone");
    // Where policy-rc.d kept prerm from stopping it (a container), stop it as the admin would.
    if (alive(daemon)) process.kill(daemon, "SIGTERM");
    await waitFor(() => !alive(daemon), 10_000, "the removed package's daemon to stop");

    // The admin had enabled it: a reinstall enables it again, and this monit starts the daemon (policy-rc.d
    // keeps postinst from doing so here).
    must("dpkg", ["-i", debs[1]]);
    assert.equal(isLink(MONIT_LINK), true, "the link is back");
    await waitFor(() => /mailpolicyd\s+OK/.test(watched()), 30_000, "monit watching mailpolicyd again");
    await waitFor(() => pid() !== daemon && alive(pid()) && existsSync(SOCKET), 10_000, "the new daemon");
    assert.equal(await askPolicy(SOCKET, "connect client_address=127.0.0.1\n"), "action=accept");
    monit.kill("SIGTERM");
    await waitFor(() => !existsSync(MONIT_PIDFILE), 10_000, "monit to stop");
  });

  it("adds itself to this machine's Debian Exim configuration, and a real Exim asks it", async () => {
    const added = must("/usr/sbin/mailpolicyd", ["exim-setup", "--add"]);
    assert.match(added, /Debian's (un)?split configuration/);
    assert.match(added, /ran update-exim4\.conf/);
    assert.match(readFileSync("/var/lib/exim4/config.autogenerated", "utf8"), /mailpolicyd/);
    exim = await startEximDaemon(dir, undefined, await freePort());
    for (const n of [1, 2]) {
      const sent = swaks(exim.port, "setup@example.org", "mail@localhost", `through mailpolicyd ${n}`, BODY);
      assert.equal(sent.status, 0, sent.output);
    }
    // The third is over the edited conffile's limit of 2: the daemon answered through exim-setup's ACL.
    assert.match(
      swaks(exim.port, "setup@example.org", "mail@localhost", "through mailpolicyd 3", BODY).output,
      /<\*\* 451 setup@example\.org /,
    );
    await waitFor(() => delivered("through mailpolicyd 2") !== undefined, 15_000, "two deliveries");
    for (const n of [1, 2]) assert.equal(delivered(`through mailpolicyd ${n}`)?.body, BODY);
    await exim.stop();
    exim = undefined;
    rmSync(dir.file("exim.pid"), { force: true }); // Exim may leave it
  });

  it("stops, and on purge leaves no file, no user and no process", () => {
    must("/etc/init.d/mailpolicyd", ["stop"]);
    assert.equal(existsSync(SOCKET), false, "the daemon removed its socket");
    must("/etc/init.d/mailpolicyd", ["start"]); // running again: purge must stop it itself
    const daemon = pid();
    // The scan below must see the daemon that runs, or "none left" would prove nothing.
    assert.deepEqual(processesRunning(BINARY), [daemon], "the running daemon, seen in /proc");
    rmSync(MONIT_LINK, { force: true }); // the reinstall above made it again
    symlinkSync("../conf-available/mailpolicyd", MONIT_LINK); // as README says
    must("monit", ["-t"]);
    const purged = must("dpkg", ["--purge", "mailpolicyd"]);
    assert.match(purged, /ran update-exim4\.conf/, "prerm ran exim-setup --remove");
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
    assert.equal(isLink(MONIT_LINK), false, "the monit link is gone");
    assert.notEqual(run("id", ["mailpolicyd"]).status, 0, "user removed");
    assert.notEqual(run("getent", ["group", "mailpolicyd"]).status, 0, "group removed");
    // Other checkouts' tests may run mailpolicyd on this machine, but not the package's binary. A daemon
    // left running would show in /proc as "/usr/sbin/mailpolicyd (deleted)".
    assert.equal(alive(daemon), false, "the daemon stopped");
    assert.deepEqual(processesRunning(BINARY), [], "no process runs the package's binary");
  });

  it("leaves Exim's and monit's configurations valid, and Exim delivering mail intact", async () => {
    assert.deepEqual(mentionsOfMailpolicyd("/etc/exim4"), []);
    must("update-exim4.conf", []);
    assert.equal(readFileSync("/var/lib/exim4/config.autogenerated", "utf8").includes("mailpolicyd"), false);
    must("monit", ["-t"]);
    exim = await startEximDaemon(dir, undefined, await freePort());
    const sent = swaks(exim.port, "after@example.org", "mail@localhost", "after the purge", BODY);
    assert.equal(sent.status, 0, sent.output);
    await waitFor(() => delivered("after the purge") !== undefined, 15_000, "the delivery");
    const message = delivered("after the purge")!;
    assert.equal(message.body, BODY);
    assert.match(
      readFileSync("/var/log/exim4/mainlog", "utf8"),
      new RegExp(`^\\S+ \\S+ ${message.id} <= after@example\\.org `, "m"),
      "Exim logged the arrival",
    );
  });
});
