// A real Postfix for tests, beside Exim: Debian's `postfix` cannot be installed next to exim4 (it conflicts
// with mail-transport-agent), so its .deb is fetched with `apt-get download` and unpacked with
// `dpkg-deb -x`, never installed, and its master/smtpd run from there with a private config directory on a
// loopback port, delivering to a maildir. The recipe and its pitfalls: docs/postfix.md, "Testing with a
// real Postfix". Needs root (master refuses otherwise) and Debian's apt (the first run downloads the .deb,
// ~1.5 MB, into POSTFIX_CACHE; later runs reuse it). Every process is stopped by the master's PID.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { waitFor } from "./daemon-process.ts";
import { type PolicyWaits, postfixSnippet } from "../../src/postfix/snippet.ts";
import type { TempDir } from "./temp-dir.ts";

/** Where the .deb and its unpacked tree are kept between runs (MAILPOLICYD_POSTFIX_CACHE overrides). */
export const POSTFIX_CACHE = process.env.MAILPOLICYD_POSTFIX_CACHE ?? "/var/cache/mailpolicyd-test/postfix";
const VIRTUAL_UID = 5000; // owns delivered maildir files; needs no passwd entry

const run = (command: string, args: string[], cwd?: string) =>
  spawnSync(command, args, { cwd, encoding: "utf8", timeout: 120_000 });

/** The cached postfix .deb, downloaded first if there is none (apt-get update once if apt cannot find it). */
function postfixDeb(): string {
  const debs = join(POSTFIX_CACHE, "deb");
  mkdirSync(debs, { recursive: true });
  const cached = () => readdirSync(debs).filter((name) => /^postfix_.*\.deb$/.test(name)).sort();
  if (cached().length === 0 && run("apt-get", ["download", "postfix"], debs).status !== 0) {
    run("apt-get", ["update", "-qq"]);
    const second = run("apt-get", ["download", "postfix"], debs);
    if (second.status !== 0) throw new Error(`apt-get download postfix failed: ${second.stderr}`);
  }
  return join(debs, cached().at(-1)!);
}

/** Installs the libraries the unpacked binaries lack (the package's lib* dependencies), never removing. */
function installMissingLibraries(deb: string, binaries: string[], root: string): void {
  const env = { ...process.env, LD_LIBRARY_PATH: join(root, "usr/lib/postfix") };
  const missing = () =>
    binaries.some((binary) =>
      spawnSync("ldd", [binary], { encoding: "utf8", env }).stdout.includes("not found")
    );
  if (!missing()) return;
  const depends = execFileSync("dpkg-deb", ["-f", deb, "Depends"], { encoding: "utf8" });
  const libraries = depends.split(",").map((part) => part.trim().split(/[\s|(]/)[0]).filter((name) =>
    name.startsWith("lib")
  );
  const plan = run("apt-get", ["-s", "install", "-y", "--no-install-recommends", ...libraries]);
  if (/^Remv /m.test(plan.stdout)) throw new Error(`installing ${libraries} would remove packages`);
  const install = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...libraries], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    encoding: "utf8",
  });
  if (install.status !== 0 || missing()) throw new Error(`shared libraries missing: ${install.stderr}`);
}

/** The unpacked package (cached per version): its usr/sbin, usr/lib/postfix/sbin, libraries. */
export function unpackedPostfix(): { root: string; version: string } {
  const deb = postfixDeb();
  const version = execFileSync("dpkg-deb", ["-f", deb, "Version"], { encoding: "utf8" }).trim();
  const root = join(POSTFIX_CACHE, `root-${version}`);
  if (!existsSync(join(root, "usr/lib/postfix/sbin/master"))) {
    const partial = `${root}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    execFileSync("dpkg-deb", ["-x", deb, partial]);
    rmSync(root, { recursive: true, force: true });
    renameSync(partial, root);
  }
  const daemons = join(root, "usr/lib/postfix/sbin");
  installMissingLibraries(deb, [
    join(daemons, "master"),
    join(daemons, "smtpd"),
    join(root, "usr/sbin/postconf"),
  ], root);
  return { root, version };
}

export interface PostfixOptions {
  /** smtpd_recipient_restrictions after the relay check, e.g. "check_policy_service inet:127.0.0.1:N". */
  recipientRestrictions: string;
  /** smtpd_end_of_data_restrictions; default none. */
  endOfDataRestrictions?: string;
  /** More main.cf lines (they win over the defaults above them). */
  mainExtra?: string;
  /** smtpd chrooted in the queue directory, as Debian's master.cf has it (needs root). */
  chrootSmtpd?: boolean;
  /** cleanup chrooted in the queue directory, as Debian's master.cf has it too: it asks the milters. */
  chrootCleanup?: boolean;
  /** Runs pickup, which takes what `sendmail` drops in the maildrop queue (non-SMTP mail), and flush. */
  pickup?: boolean;
}

/**
 * A login that hands mail to sendmail. The unpacked postdrop is not setgid (and a setgid one would not
 * honour LD_LIBRARY_PATH), so the login runs with setgid_group (mail) as a supplementary group instead, which
 * lets it write to the maildrop queue as Debian's setgid postdrop does.
 */
export interface LocalUser {
  uid: number;
  gid: number;
}

/** One message in the queue, as `postqueue -j` lists it. */
export interface QueuedMessage {
  queue_name: string; // "hold", "incoming", "active", "deferred"
  queue_id: string;
  sender: string;
  recipients: { address: string }[];
}

export interface PostfixServer {
  port: number;
  version: string;
  /** The raw files delivered to the maildir (…@example.test), oldest first. */
  delivered(): string[];
  maillog(): string;
  /** Postfix's own `sendmail` (from the unpacked package; as root unless `user`), `message` on its input. */
  sendmail(args: string[], message: string, user?: LocalUser): Promise<{ status: number; stderr: string }>;
  /** What is in the queue, by `postqueue -j`. */
  queue(): Promise<QueuedMessage[]>;
  /**
   * A script that runs this instance's `sendmail` with its environment (MAIL_CONFIG, LD_LIBRARY_PATH), as
   * `/usr/sbin/sendmail` is on a Postfix host: for the daemon's `[alerts] sendmail =`.
   */
  sendmailPath: string;
  /** Runs a command of the unpacked package's usr/sbin (postsuper, postqueue) on this instance. */
  command(name: string, args: string[]): Promise<string>;
  stop(): Promise<void>;
}

function mainCf(dir: TempDir, root: string, options: PostfixOptions): string {
  const libraries = join(root, "usr/lib/postfix");
  return `compatibility_level = 3.6
config_directory = ${dir.file("postfix")}
meta_directory = ${dir.file("postfix")}
sample_directory = ${dir.file("postfix")}
shlib_directory = ${libraries}
daemon_directory = ${join(root, "usr/lib/postfix/sbin")}
command_directory = ${join(root, "usr/sbin")}
queue_directory = ${dir.file("spool")}
data_directory = ${dir.file("data")}
sendmail_path = ${join(root, "usr/sbin/sendmail")}
newaliases_path = ${join(root, "usr/sbin/sendmail")}
mailq_path = ${join(root, "usr/sbin/sendmail")}
manpage_directory = ${join(root, "usr/share/man")}
readme_directory = no
html_directory = no
mail_owner = nobody
default_privs = daemon
setgid_group = mail
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME LD_LIBRARY_PATH=${libraries}
export_environment = TZ MAIL_CONFIG LANG LD_LIBRARY_PATH=${libraries}
maillog_file = ${dir.file("maillog")}
maillog_file_prefixes = ${dir.path}
myhostname = pfx.test
mydomain = pfx.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtpd_peername_lookup = no
virtual_mailbox_domains = example.test
virtual_mailbox_base = ${dir.file("mail")}
virtual_mailbox_maps = static:sink/
virtual_uid_maps = static:${VIRTUAL_UID}
virtual_gid_maps = static:${VIRTUAL_UID}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = ${options.recipientRestrictions}
smtpd_end_of_data_restrictions = ${options.endOfDataRestrictions ?? ""}
${options.mainExtra ?? ""}
`;
}

// pickup takes what sendmail drops in the maildrop queue; flush serves `postqueue -i` (a released message now).
const PICKUP_LINES = `pickup    unix  n       -       n       60      1       pickup
flush     unix  n       -       n       1000?   0       flush
`;

const MASTER_CF = (port: number, chrootSmtpd: boolean, pickup: boolean, chrootCleanup: boolean) =>
  `127.0.0.1:${port} inet n - ${chrootSmtpd ? "y" : "n"} - - smtpd
${pickup ? PICKUP_LINES : ""}cleanup   unix  n       -       ${
    chrootCleanup ? "y" : "n"
  }       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

/** Running and not a zombie (master is reparented to PID 1, which may reap it late). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/**
 * The queue directory's `private/`, made before Postfix's first start so that a policy socket can be put
 * in it (where a chrooted smtpd finds it): owned by mail_owner, as Postfix requires. Returns its path.
 */
export function postfixPrivateDirectory(dir: TempDir): string {
  const path = dir.file("spool/private");
  mkdirSync(dir.file("spool"), { recursive: true }); // 0755: mail_owner must reach the queue in it
  mkdirSync(path, { mode: 0o700 });
  chownSync(path, Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" })), 0);
  return path;
}

/** Postfix's master (daemonized, waited for with -w) on 127.0.0.1:`port` with its config under dir. */
export async function startPostfix(
  dir: TempDir,
  port: number,
  options: PostfixOptions,
): Promise<PostfixServer> {
  const { root, version } = unpackedPostfix();
  const etc = dir.file("postfix");
  chmodSync(dir.path, 0o755); // nobody (smtpd) and the virtual uid reach the spool and the maildir
  for (const sub of ["postfix", "spool", "data", "mail"]) mkdirSync(dir.file(sub), { recursive: true });
  cpSync(join(root, "etc/postfix/postfix-files"), join(etc, "postfix-files"));
  cpSync(join(root, "etc/postfix/postfix-files.d"), join(etc, "postfix-files.d"), { recursive: true });
  cpSync(join(root, "usr/share/postfix/dynamicmaps.cf"), join(etc, "dynamicmaps.cf"));
  mkdirSync(join(etc, "dynamicmaps.cf.d"), { recursive: true });
  writeFileSync(join(etc, "main.cf"), mainCf(dir, root, options));
  writeFileSync(
    join(etc, "master.cf"),
    MASTER_CF(port, options.chrootSmtpd ?? false, options.pickup ?? false, options.chrootCleanup ?? false),
  );
  // Postfix re-reads a main.cf written less than ~2 s ago until it "cools down": date them back.
  const past = new Date(Date.now() - 60_000);
  for (const file of ["main.cf", "master.cf"]) utimesSync(join(etc, file), past, past);
  chownSync(dir.file("data"), Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" })), 0);
  chownSync(dir.file("mail"), VIRTUAL_UID, VIRTUAL_UID);
  const env = { ...process.env, LD_LIBRARY_PATH: join(root, "usr/lib/postfix") };
  const maillog = () => existsSync(dir.file("maillog")) ? readFileSync(dir.file("maillog"), "utf8") : "";
  // Not spawnSync: the tests' daemon runs in this process and must go on answering meanwhile.
  const step = (binary: string, args: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile(
        binary,
        args,
        { env, encoding: "utf8", timeout: 60_000 },
        (error, _stdout, stderr) =>
          error
            ? reject(new Error(`${binary} ${args.join(" ")}: ${error.message} ${stderr}\n${maillog()}`))
            : resolve(),
      )
    );
  await step(join(root, "usr/sbin/postfix"), ["-c", etc, "check"]); // creates the queue directories
  await step(join(root, "usr/lib/postfix/sbin/master"), ["-c", etc, "-w"]); // returns once it listens
  const pid = Number(readFileSync(dir.file("spool/pid/master.pid"), "utf8").trim());
  const sink = dir.file("mail/sink/new");
  const mailEnv = { ...env, MAIL_CONFIG: etc };
  const mailGroup = execFileSync("getent", ["group", "mail"], { encoding: "utf8" }).split(":")[2];
  const command = (name: string, args: string[], input?: string, user?: LocalUser) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      const binary = join(root, "usr/sbin", name);
      const child = execFile(
        user ? "setpriv" : binary,
        user
          ? [`--reuid=${user.uid}`, `--regid=${user.gid}`, `--groups=${mailGroup}`, binary, ...args]
          : args,
        { env: mailEnv, encoding: "utf8", timeout: 60_000 },
        (error, stdout, stderr) => resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(input ?? "");
    });
  const sendmailPath = dir.file("postfix-sendmail");
  writeFileSync(
    sendmailPath,
    `#!/bin/sh\nMAIL_CONFIG='${etc}' LD_LIBRARY_PATH='${env.LD_LIBRARY_PATH}' exec '${
      join(root, "usr/sbin/sendmail")
    }' "$@"\n`,
    { mode: 0o755 },
  );
  return {
    port,
    version,
    sendmailPath,
    sendmail: async (args, message, user) => {
      const { status, stderr } = await command("sendmail", args, message, user);
      return { status, stderr };
    },
    async queue() {
      const { stdout } = await command("postqueue", ["-j"]);
      return stdout.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
    },
    async command(name, args) {
      const { status, stdout, stderr } = await command(name, args);
      if (status !== 0) throw new Error(`${name} ${args.join(" ")}: exit ${status} ${stderr}`);
      return stdout;
    },
    delivered: () =>
      existsSync(sink) ? readdirSync(sink).sort().map((name) => readFileSync(join(sink, name), "utf8")) : [],
    maillog,
    async stop() {
      try {
        process.kill(pid, "SIGTERM"); // master stops its own process group
      } catch { /* already gone */ }
      await waitFor(() => !alive(pid), 10_000, "Postfix master to stop");
    },
  };
}

/**
 * `mailpolicyd postfix-snippet`'s main.cf lines for `endpoint` (and the milter's at `milter`) without its
 * comments, as a postmaster pastes them.
 */
export function pastedSnippet(
  endpoint: string,
  failClosed = false,
  waits: Partial<PolicyWaits> = {},
  milter?: string,
): string {
  return postfixSnippet(endpoint, failClosed, waits, milter).split("\n").filter((line) =>
    !line.startsWith("#")
  )
    .join("\n");
}
