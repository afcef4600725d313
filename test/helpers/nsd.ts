// A real authoritative DNS server for tests: Debian's nsd, on a free loopback port, with zones the test
// writes, its own config, pidfile and log in a temp dir (nothing under /etc or /var). Stopped by its PID.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { freePort } from "./smtp-receiver.ts";
import { makeTempDir, type TempDir } from "./temp-dir.ts";

export interface Nsd {
  port: number;
  dir: TempDir;
  /** The server's log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** `zones` maps a zone name to its zone file text (with its own $ORIGIN/$TTL/SOA). */
function config(dir: TempDir, port: number, zones: Record<string, string>): string {
  const zoneBlocks = Object.keys(zones).map((name) => `zone:\n  name: ${name}\n  zonefile: ${name}.zone\n`);
  return `server:
  ip-address: 127.0.0.1@${port}
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "${dir.path}"
  pidfile: "${dir.file("nsd.pid")}"
  logfile: "${dir.file("nsd.log")}"
  database: ""
  zonelistfile: "${dir.file("zone.list")}"
  xfrdfile: "${dir.file("xfrd.state")}"
  xfrdir: "${dir.path}"
  server-count: 1
  tcp-count: 20
  verbosity: 1
  hide-version: yes
  # no response rate limiting: a bench's thousands of queries a second from one address would be
  # dropped or truncated on purpose (RRL), which measures nsd's policy, not the client
  rrl-ratelimit: 0
remote-control:
  control-enable: no
${zoneBlocks.join("")}`;
}

/** Starts nsd in the foreground (-d) and waits until `ready()` (a query the caller makes) succeeds. */
export async function startNsd(zones: Record<string, string>, ready: (port: number) => Promise<boolean>) {
  const dir = makeTempDir("mailpolicyd-nsd-");
  const port = await freePort();
  for (const [name, text] of Object.entries(zones)) writeFileSync(dir.file(`${name}.zone`), text);
  writeFileSync(dir.file("nsd.conf"), config(dir, port, zones));
  const child: ChildProcess = spawn("/usr/sbin/nsd", ["-d", "-c", dir.file("nsd.conf")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => stderr += chunk);
  const log = () => `${stderr}${readOr(dir.file("nsd.log"))}`;
  const stop = () => stopChild(child, dir);
  const deadline = Date.now() + 10_000;
  while (!(await ready(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const said = log();
      await stop();
      throw new Error(`nsd did not start on 127.0.0.1:${port}:\n${said}`);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  return { port, dir, log, stop } satisfies Nsd;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

async function stopChild(child: ChildProcess, dir: TempDir): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM"); // nsd's own pid: -d keeps it in the foreground, our child
    await Promise.race([exited, new Promise((done) => setTimeout(done, 5_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  dir.remove();
}
