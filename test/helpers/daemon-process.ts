// Starts the real daemon as a child process on a temp dir and stops it by PID.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { bunCommand, mainCommand } from "./runtime.ts";
import type { TempDir } from "./temp-dir.ts";

export interface DaemonProcess {
  child: ChildProcess;
  pid: number;
  policySocket: string;
  /** The TCP policy listener (policy_listen; writeTestConfig asks for any free port). */
  policyAddress?: { hostname: string; port: number };
  /** Exim's readsocket spec for it: inet:127.0.0.1:PORT. */
  eximAddress: string;
  logs(): string;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends the signal and waits for exit; resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** Sends a signal by PID (Deno's child.kill() marks the child as killed by it, even for SIGHUP). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM/SIGINT, then checks the daemon said it stopped and exited 0. */
  stopCleanly(signal?: "SIGTERM" | "SIGINT"): Promise<void>;
}

/**
 * A config whose sockets, pidfile and state live in dir, with the TCP policy listener on any free port
 * unless `extra` sets policy_listen; `extra` is appended verbatim.
 */
export function writeTestConfig(dir: TempDir, extra: string, name = "mailpolicyd.conf"): string {
  const file = dir.file(name);
  const listen = /^policy_listen\s*=/m.test(extra) ? "" : "policy_listen = 127.0.0.1:0\n";
  writeFileSync(
    file,
    `[daemon]\npolicy_socket = ${dir.file("policy.sock")}\ncontrol_socket = ${dir.file("control.sock")}\n` +
      listen +
      `pidfile = ${dir.file("mailpolicyd.pid")}\nstate_file = ${dir.file("state.json")}\n` +
      `state_interval = 200ms\nlog_level = debug\n${extra}`,
  );
  return file;
}

export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Starts the daemon; `fileLimit`: its open-file limit (soft and hard), set by util-linux's prlimit, which
 * then runs it in its own place (the same PID).
 */
export async function startDaemonProcess(
  dir: TempDir,
  configFile: string,
  args: string[] = [],
  runtime: "same" | "bun" = "same",
  fileLimit?: number,
): Promise<DaemonProcess> {
  const argv = ["run", "--config", configFile, ...args];
  const daemonCommand = runtime === "bun" ? bunCommand(argv) : mainCommand(argv);
  const [command, ...rest] = fileLimit === undefined
    ? daemonCommand
    : ["prlimit", `--nofile=${fileLimit}:${fileLimit}`, "--", ...daemonCommand];
  const child = spawn(command, rest, { stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr!.on("data", (chunk) => output += chunk);
  let running = true;
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      running = false;
      resolve(code ?? signal ?? "unknown");
    });
  });
  const policySocket = dir.file("policy.sock");
  const daemon: DaemonProcess = {
    child,
    pid: child.pid!,
    policySocket,
    get policyAddress() {
      const match = / policy: listening .*\btcp=(\S+):(\d+)/.exec(output);
      return match ? { hostname: match[1], port: Number(match[2]) } : undefined;
    },
    get eximAddress() {
      const address = daemon.policyAddress;
      if (!address) throw new Error("this daemon has no TCP policy listener (policy_listen = none)");
      return `inet:${address.hostname}:${address.port}`;
    },
    logs: () => output,
    waitForLog: (pattern, timeoutMs = 10_000) =>
      waitFor(() => pattern.test(output), timeoutMs, `log ${pattern}`),
    signal(signal) {
      if (running) process.kill(child.pid!, signal);
    },
    async stop(signal = "SIGTERM") {
      if (running) process.kill(child.pid!, signal);
      return await exited;
    },
    async stopCleanly(signal = "SIGTERM") {
      const exit = await daemon.stop(signal);
      if (!/info daemon: stopped/.test(output)) throw new Error(`daemon did not stop cleanly:\n${output}`);
      if (exit !== 0) throw new Error(`daemon exited with ${exit}`);
    },
  };
  try {
    await daemon.waitForLog(/policy: listening/, 15_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${(error as Error).message}; daemon output:\n${output}`);
  }
  if (!existsSync(policySocket)) throw new Error(`daemon says listening but ${policySocket} is missing`);
  return daemon;
}
