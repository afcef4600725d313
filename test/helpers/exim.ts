// A real Exim (Debian's exim4-daemon-heavy) for tests: `exim -C <abs config> -bh <ip>` runs every ACL of
// an SMTP session fed on stdin and delivers nothing; `-bd` on a loopback port delivers for real.
// Exim drops to Debian-exim with -C, so the test dir must be traversable and the spool Exim's own.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { eximSnippet, type SnippetVariant } from "../../src/exim/snippets.ts";
import { type DaemonProcess, startDaemonProcess, waitFor, writeTestConfig } from "./daemon-process.ts";
import { makeTempDir, type TempDir } from "./temp-dir.ts";

export const EXIM = "/usr/sbin/exim";

function eximIds(): { uid: number; gid: number } {
  const passwd = readFileSync("/etc/passwd", "utf8").split("\n").find((line) =>
    line.startsWith("Debian-exim:")
  );
  if (!passwd || !existsSync(EXIM)) {
    throw new Error("Debian's exim4-daemon-heavy is not installed (bash .ci/run installs it)");
  }
  const [, , uid, gid] = passwd.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/** Makes dir usable by an Exim that runs as Debian-exim: traversable, with an Exim-owned spool. */
export function prepareEximDir(dir: TempDir): void {
  const { uid, gid } = eximIds();
  chmodSync(dir.path, 0o755);
  for (const sub of ["spool", "log", "maildir"]) {
    mkdirSync(dir.file(sub), { recursive: true });
    chownSync(dir.file(sub), uid, gid);
  }
}

/**
 * A directory Exim may use (prepareEximDir) and a daemon there that Exim may ask (its sockets in the
 * Debian-exim group), with `config` after the test config's [daemon] lines.
 */
export async function startDaemonForExim(config: string): Promise<{ dir: TempDir; daemon: DaemonProcess }> {
  const dir = makeTempDir();
  prepareEximDir(dir);
  const daemon = await startDaemonProcess(dir, writeTestConfig(dir, `socket_group = Debian-exim\n${config}`));
  return { dir, daemon };
}

export interface EximConfigOptions {
  address: string; // Exim's readsocket spec: inet:127.0.0.1:PORT (or a Unix path, to show its hazard)
  variant?: Exclude<SnippetVariant, "debian-unsplit">; // default plain
  siteRcptAcl?: string; // statements of acl_check_rcpt
  siteDataAcl?: string;
  withSnippet?: boolean; // default true; false: the site's ACLs only, plus mainExtra
  relayFromHosts?: string; // default 192.0.2.0/24
  mainExtra?: string;
  aclExtra?: string; // more ACLs
  routers?: string;
  transports?: string;
  authenticators?: string; // the section's drivers, if any
  spamd?: string; // the spamd front's spamd_address: the snippet then scans at DATA (spamd-snippet.ts)
}

const DEFAULT_SITE_RCPT = `  accept hosts = +relay_from_hosts
  accept domains = +local_domains
  deny message = relay not permitted
`;

/** A minimal exim.conf: example.net is local, 192.0.2.0/24 may relay, plus the plain snippet. */
export function writeEximConfig(dir: TempDir, options: EximConfigOptions): string {
  const [main, acl] = eximSnippet("plain", options.address, undefined, options.spamd);
  const withSnippet = options.withSnippet ?? true;
  const file = dir.file("exim.conf");
  writeFileSync(
    file,
    `primary_hostname = mx.test.example
domainlist local_domains = example.net
hostlist relay_from_hosts = ${options.relayFromHosts ?? "192.0.2.0/24"}
log_file_path = ${dir.file("log")}/%slog
spool_directory = ${dir.file("spool")}
host_lookup =
rfc1413_hosts =
${withSnippet ? main.content : "acl_smtp_rcpt = acl_check_rcpt\nacl_smtp_data = acl_check_data\n"}
${options.mainExtra ?? ""}
begin acl
${withSnippet ? acl.content : ""}
acl_check_rcpt:
${options.siteRcptAcl ?? DEFAULT_SITE_RCPT}
acl_check_data:
${options.siteDataAcl ?? "  accept\n"}
${options.aclExtra ?? ""}
begin routers
${options.routers ?? ""}
begin transports
${options.transports ?? ""}
${options.authenticators ? `begin authenticators\n${options.authenticators}` : ""}`,
  );
  return file;
}

/** Router and transport that deliver every local recipient into dir's maildir, as Debian-exim. */
export function maildirDelivery(dir: TempDir): { routers: string; transports: string } {
  return {
    routers: "to_maildir:\n  driver = accept\n  domains = +local_domains\n  transport = maildir_delivery\n",
    transports:
      `maildir_delivery:\n  driver = appendfile\n  directory = ${dir.file("maildir")}\n  maildir_format\n` +
      `  user = Debian-exim\n  group = Debian-exim\n  create_directory\n  delivery_date_add\n  envelope_to_add\n`,
  };
}

// A test-only authenticator; a real site has its own (Debian ships examples commented out).
const TEST_AUTH = `
test_plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{$auth2}{alice}}{eq{$auth3}{secret}}}}
  server_set_id = $auth2
`;

/**
 * This machine's /etc/exim4 copied into dir (internet site, example.net local, 192.0.2.0/24 relaying),
 * the shipped Debian snippet for `address` installed as a postmaster would, and Debian's own
 * update-exim4.conf run on it. The result runs with `-bh`, and with `-bd` on a loopback port: it
 * delivers local mail into dir's maildir and keeps its spool and logs in dir.
 */
export function debianEximConfig(
  dir: TempDir,
  variant: Extract<SnippetVariant, `debian-${string}`>,
  address: string,
  spamd?: string,
): string {
  const confdir = dir.file(`exim4-${variant}`);
  cpSync("/etc/exim4", confdir, { recursive: true });
  const settings = `${confdir}/update-exim4.conf.conf`;
  writeFileSync(
    settings,
    readFileSync(settings, "utf8")
      .replace(/^dc_eximconfig_configtype=.*$/m, "dc_eximconfig_configtype='internet'")
      .replace(/^dc_relay_nets=.*$/m, "dc_relay_nets='192.0.2.0/24'")
      .replace(/^dc_other_hostnames=.*$/m, "dc_other_hostnames='example.net'")
      .replace(/^dc_local_interfaces=.*$/m, "dc_local_interfaces='127.0.0.1'")
      .replace(/^dc_use_split_config=.*$/m, `dc_use_split_config='${variant === "debian-split"}'`),
  );
  const template = `${confdir}/exim4.conf.template`;
  const edit = (file: string, change: (text: string) => string) =>
    writeFileSync(file, change(readFileSync(file, "utf8")));
  for (const file of eximSnippet(variant, address, confdir, spamd)) {
    if (!file.path.endsWith("localmacros")) writeFileSync(file.path, file.content);
    // update-exim4.conf prepends localmacros to the template, but with -d it only looks for the copy's
    // file if /etc/exim4/exim4.conf.localmacros exists on the host; do its prepending here instead.
    else edit(template, (text) => file.content + text);
  }
  const { routers, transports } = maildirDelivery(dir);
  if (variant === "debian-split") {
    writeFileSync(`${confdir}/conf.d/auth/50_test_plain`, TEST_AUTH);
    writeFileSync(`${confdir}/conf.d/router/01_test_maildir`, routers);
    writeFileSync(`${confdir}/conf.d/transport/01_test_maildir`, transports);
  } else {
    edit(template, (text) =>
      text.replace(/^begin authenticators$/m, `begin authenticators\n${TEST_AUTH}`)
        .replace(/^begin routers$/m, `begin routers\n${routers}`)
        .replace(/^begin transports$/m, `begin transports\n${transports}`));
  }
  const out = dir.file(`${variant}.conf`);
  const result = spawnSync("update-exim4.conf", ["-d", confdir, "-o", out], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  // Spool and logs in dir (SPOOLDIR is one of the template's .ifndef macros; log_file_path is not set).
  edit(out, (text) => `SPOOLDIR = ${dir.file("spool")}\nlog_file_path = ${dir.file("log")}/%slog\n${text}`);
  return out;
}

export interface SmtpExchange {
  replies: string[]; // every SMTP reply line Exim wrote, e.g. "451 too many …"
  log: string[]; // Exim's "LOG:" lines
  output: string;
}

/** One SMTP session through `exim -bh ip`: commands are sent as they are, each ended with CRLF. */
export function eximBh(config: string, ip: string, commands: string[]): SmtpExchange {
  const input = Buffer.concat(
    commands.map((line) => Buffer.concat([Buffer.from(line, "latin1"), Buffer.from("\r\n")])),
  );
  const result = spawnSync(EXIM, ["-C", config, "-bh", ip], { input, timeout: 30_000 });
  const output = `${result.stdout?.toString("latin1") ?? ""}${result.stderr?.toString("latin1") ?? ""}`;
  if (result.error) throw result.error;
  const lines = output.split(/\r?\n/);
  return {
    replies: lines.filter((line) => /^\d{3}[ -]/.test(line)),
    log: lines.filter((line) => line.startsWith("LOG: ")),
    output,
  };
}

/** SMTP commands for one message: MAIL, each RCPT, and DATA with the given header lines and a body. */
export function message(from: string, to: string[], headers: string[] = [], body = "test body"): string[] {
  return [`MAIL FROM:<${from}>`, ...to.map((rcpt) => `RCPT TO:<${rcpt}>`), "DATA", ...headers, "", body, "."];
}

/** How many replies start with `prefix` ("250 Accepted", "451", …). */
export function countReplies(exchange: SmtpExchange, prefix: string): number {
  return exchange.replies.filter((reply) => reply.startsWith(prefix)).length;
}

const swaksArgs = (port: number, from: string, to: string, subject: string, body: string) => [
  "--server",
  "127.0.0.1",
  "--port",
  String(port),
  "--from",
  from,
  "--to",
  to,
  "--header",
  `Subject: ${subject}`,
  "--body",
  body,
  "--helo",
  "client.example",
];

/** One message over SMTP with swaks (exit 24: a recipient was refused); output holds the whole dialogue. */
export function swaks(port: number, from: string, to: string, subject: string, body = "hello") {
  const result = spawnSync("swaks", swaksArgs(port, from, to, subject, body), {
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** swaks without blocking this process: for a daemon running in the test's own process. */
export function swaksAsync(
  port: number,
  from: string,
  to: string,
  subject: string,
  body = "hello",
): Promise<{ status: number | null; output: string }> {
  return swaksWith(swaksArgs(port, from, to, subject, body));
}

/** swaks with any arguments, without blocking this process; output holds the whole dialogue. */
export function swaksWith(args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("swaks", args, { timeout: 30_000 });
    let output = "";
    child.stdout!.on("data", (chunk) => output += chunk);
    child.stderr!.on("data", (chunk) => output += chunk);
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, output }));
  });
}

export interface EximDaemon {
  port: number;
  stop(): Promise<void>;
}

/** `exim -bd` on a loopback port; `config` undefined: Debian's own generated configuration. */
export async function startEximDaemon(
  dir: TempDir,
  config: string | undefined,
  port: number,
): Promise<EximDaemon> {
  const pidfile = dir.file("exim.pid");
  const configArgs = config === undefined ? [] : ["-C", config];
  const child: ChildProcess = spawn(EXIM, [...configArgs, "-bd", "-oX", String(port), "-oP", pidfile], {
    stdio: "ignore",
  });
  await waitFor(() => existsSync(pidfile), 10_000, "exim -bd pidfile");
  const net = await import("node:net");
  const listening = () =>
    new Promise<boolean>((resolve) => {
      const probe = net.createConnection({ port, host: "127.0.0.1" }, () => {
        probe.destroy();
        resolve(true);
      });
      probe.on("error", () => resolve(false));
    });
  for (let i = 0; i < 200 && !(await listening()); i++) await new Promise((r) => setTimeout(r, 25));
  return {
    port,
    async stop() {
      const pid = Number(readFileSync(pidfile, "utf8"));
      try {
        process.kill(pid, "SIGTERM");
      } catch { /* already gone */ }
      await waitFor(
        () => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        },
        10_000,
        "exim -bd to stop",
      );
      child.unref();
    },
  };
}
