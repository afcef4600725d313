// A real SpamAssassin daemon for tests: Debian's spamd (package spamd), in the foreground, on a free
// loopback port and a Unix socket, with its own site config (the package's .pre files, no local.cf from
// /etc), pidfile and home in a temp dir, local tests only (-L: no DNS, no network rule updates). It runs
// in its own process group so that pause() can SIGSTOP the parent and its preforked children (the kernel
// still accepts connections: a hung spamd) and stop() ends them all, by PID.
//
// spamd takes 5-40 s to start on a busy machine: start one per test file.
import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { isPong, SPAMD_PING } from "../../src/protocols/spamd-client.ts";
import type { SpamdAddress } from "../../src/config/spamassassin-values.ts";
import { freePort } from "./smtp-receiver.ts";
import { makeTempDir, type TempDir } from "./temp-dir.ts";

export const SPAMD = "/usr/sbin/spamd";
const STARTUP_MS = 120_000;
const LOG_KEPT = 64 * 1024;

export interface SpamdOptions {
  /** spamd's --max-children (Debian's default is 5). */
  maxChildren?: number;
  /** Extra lines for the site config (local.cf), such as "required_score 4". */
  localCf?: string;
}

export interface Spamd {
  /** Its loopback port. */
  tcp: { host: string; port: number };
  /** Its Unix socket, in the temp dir. */
  unix: { path: string };
  /** spamd's own PID (the parent of its children, the leader of their process group). */
  pid: number;
  dir: TempDir;
  /** What spamd logged (its last 64 KB), for failure messages. */
  log(): string;
  /** SIGSTOP to spamd and its children: connections are still accepted, never answered. */
  pause(): void;
  /** SIGCONT: the paused spamd goes on, answering what it had accepted. */
  resume(): void;
  /** SIGTERM (SIGKILL after 10 s), then removes the temp dir. */
  stop(): Promise<void>;
}

/** A fresh site config: the package's .pre files (they load the plugins), and only the test's local.cf. */
function siteConfig(dir: TempDir, localCf: string): void {
  // spamd, run as root, reads its config again as the user it scans for (nobody): mkdtemp's 0700 is not
  // enough. Nothing secret is in here.
  chmodSync(dir.path, 0o755);
  for (const name of readdirSync("/etc/spamassassin").filter((file) => file.endsWith(".pre"))) {
    copyFileSync(`/etc/spamassassin/${name}`, dir.file(name));
  }
  writeFileSync(dir.file("local.cf"), `${localCf}\n`);
}

export async function startSpamd(options: SpamdOptions = {}): Promise<Spamd> {
  const dir = makeTempDir("mailpolicyd-spamd-");
  siteConfig(dir, options.localCf ?? "");
  const tcp = { host: "127.0.0.1", port: await freePort() };
  const unix = { path: dir.file("spamd.sock") };
  const child: ChildProcess = spawn(SPAMD, [
    `--listen=${tcp.host}:${tcp.port}`,
    `--socketpath=${unix.path}`,
    "--local",
    "--nouser-config",
    `--helper-home-dir=${dir.path}`,
    `--siteconfigpath=${dir.path}`,
    `--pidfile=${dir.file("spamd.pid")}`,
    `--max-children=${options.maxChildren ?? 2}`,
    "--min-children=1",
    "--syslog=stderr",
  ], { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let said = "";
  child.stderr!.on("data", (chunk) => said = (said + chunk).slice(-LOG_KEPT));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch { /* gone already */ }
  };
  // spamd runs in its own process group (detached), so a test runner that exits without stop() (a hook
  // timing out) would leave it behind: end it with the test process.
  const leftBehind = () => {
    signalGroup("SIGKILL");
    dir.remove();
  };
  process.once("exit", leftBehind);
  const spamd: Spamd = {
    tcp,
    unix,
    pid: child.pid!,
    dir,
    log: () => said,
    pause: () => signalGroup("SIGSTOP"),
    resume: () => signalGroup("SIGCONT"),
    stop: () => {
      process.removeListener("exit", leftBehind);
      return stopSpamd(child, signalGroup, dir);
    },
  };
  const deadline = Date.now() + STARTUP_MS;
  while (!(await answersPing(tcp)) || !(await answersPing(unix))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await spamd.stop();
      throw new Error(`spamd did not answer PING on ${tcp.host}:${tcp.port} and ${unix.path}:\n${said}`);
    }
    await new Promise((done) => setTimeout(done, 200));
  }
  return spamd;
}

/** Whether spamd at `address` answers PING within 2 s. */
export function answersPing(address: SpamdAddress): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = "path" in address ? createConnection({ path: address.path }) : createConnection(address);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => done(false), 2000);
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    socket.on("connect", () => socket.end(SPAMD_PING));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => done(isPong(Buffer.concat(chunks))));
    socket.on("error", () => done(false));
  });
}

async function stopSpamd(
  child: ChildProcess,
  signalGroup: (signal: NodeJS.Signals) => void,
  dir: TempDir,
): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((done) => child.once("exit", done));
    signalGroup("SIGCONT"); // a paused spamd cannot act on SIGTERM
    child.kill("SIGTERM"); // the parent stops its children itself
    await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) signalGroup("SIGKILL");
  }
  signalGroup("SIGKILL"); // any child left behind in the group
  dir.remove();
}

/** A test message from test/fixtures/spamd (CRLF, as spamd gets it from an MTA). */
export function spamdFixture(name: "gtube.eml" | "clean.eml"): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`../fixtures/spamd/${name}`, import.meta.url)));
}
