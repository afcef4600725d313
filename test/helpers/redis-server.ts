// A real Redis for tests: Debian's redis-server (package redis-server), in the foreground, on a free
// loopback port and a Unix socket in a temp dir, no persistence (--save '', no AOF), optionally with
// requirepass. Stopped by its PID; restart() starts a fresh one on the same port and socket (an empty
// database: nothing is saved), as a Redis restarted by its supervisor after a crash.
import type { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { freePort } from "./smtp-receiver.ts";
import { makeTempDir, type TempDir } from "./temp-dir.ts";

export const REDIS_SERVER = "/usr/bin/redis-server";
const STARTUP_MS = 20_000;
const STOP_MS = 5_000;
const LOG_KEPT = 16 * 1024;

export interface RedisServerOptions {
  /** requirepass: clients must AUTH with it. */
  password?: string;
  /**
   * cluster-enabled, with no slots assigned: it answers CLUSTER KEYSLOT (Redis Cluster's own word on
   * which slot a key is in) but stores nothing (CLUSTERDOWN).
   */
  cluster?: boolean;
  /** ACL rules, one `user …` line each, written to an aclfile (say `user default off` and a user of its own). */
  aclUsers?: string[];
  /** A TLS port as well (tlsPort), with this certificate, its key and the CA that signed it (PEM files). */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** More redis-server arguments, given at every start (e.g. `--key-load-delay 500`). */
  args?: string[];
}

export interface RedisServer {
  host: string;
  port: number;
  /** With options.tls: the TLS port (clients are not asked for a certificate). */
  tlsPort: number | undefined;
  /** The Unix socket's path, in the temp dir. */
  socket: string;
  /** The running server's PID (it changes with restart()). */
  readonly pid: number;
  password: string | undefined;
  /** redis://[:password@]127.0.0.1:port */
  url: string;
  dir: TempDir;
  /** What redis-server logged (its last 16 KB), for failure messages. */
  log(): string;
  /** SIGTERM (SIGKILL after 5 s), then removes the temp dir. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash: the temp dir stays (restart() may follow). */
  kill9(): Promise<void>;
  /**
   * Stops it if it runs, and starts a new one on the same port and socket; `changes`: with this
   * requirepass (`password` and `url` then say it) or these arguments from now on.
   */
  restart(changes?: Pick<RedisServerOptions, "password" | "args">): Promise<void>;
  /** SIGSTOP: connections are still accepted by the kernel, nothing is answered (a hung Redis). */
  pause(): void;
  /** SIGCONT: it answers what it had received. */
  resume(): void;
}

// process.kill, not child.kill: Deno's ChildProcess sends only the first signal (a SIGCONT before SIGTERM
// left the server running).
const signal = (child: ChildProcess, name: NodeJS.Signals) => {
  try {
    process.kill(child.pid!, name);
  } catch { /* gone already */ }
};

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((done) => child.once("exit", () => done()));

/**
 * Whether a PING on the port gets PONG within 1 s, or NOAUTH (it runs and wants a password) or LOADING (it
 * runs and reads its dataset).
 */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let said = "";
    const timer = setTimeout(() => done(false), 1000);
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      said += chunk;
      if (said.includes("\r\n")) done(/^(\+PONG|-NOAUTH|-LOADING)/.test(said));
    });
    socket.on("error", () => done(false));
  });
}

export async function startRedisServer(initial: RedisServerOptions = {}): Promise<RedisServer> {
  let options = initial;
  const dir = makeTempDir("mailpolicyd-redis-");
  const host = "127.0.0.1";
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const socket = dir.file("redis.sock");
  let said = "";
  let child: ChildProcess | undefined;

  const launch = async () => {
    const args = [
      "--port",
      String(port),
      "--bind",
      host,
      "--unixsocket",
      socket,
      "--unixsocketperm",
      "700",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir.path,
      "--daemonize",
      "no",
      "--logfile",
      "",
    ];
    if (options.password !== undefined) args.push("--requirepass", options.password);
    if (options.aclUsers) {
      writeFileSync(dir.file("users.acl"), options.aclUsers.join("\n") + "\n");
      args.push("--aclfile", dir.file("users.acl"));
    }
    if (options.tls) {
      const { certFile, keyFile, caFile } = options.tls;
      args.push("--tls-port", String(tlsPort), "--tls-cert-file", certFile, "--tls-key-file", keyFile);
      args.push("--tls-ca-cert-file", caFile, "--tls-auth-clients", "no");
    }
    if (options.args) args.push(...options.args);
    if (options.cluster) {
      args.push("--cluster-enabled", "yes", "--cluster-config-file", dir.file("nodes.conf"));
    }
    const started = spawn(REDIS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = started;
    const keep = (chunk: Buffer) => said = (said + chunk).slice(-LOG_KEPT);
    started.stdout!.on("data", keep);
    started.stderr!.on("data", keep);
    const deadline = Date.now() + STARTUP_MS;
    while (!(await answers(host, port))) {
      if (started.exitCode !== null || Date.now() > deadline) {
        signal(started, "SIGKILL");
        throw new Error(`redis-server did not answer on ${host}:${port}:\n${said}`);
      }
      await new Promise((done) => setTimeout(done, 50));
    }
  };

  const kill = async (name: NodeJS.Signals) => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const gone = exited(running);
    signal(running, "SIGCONT"); // a paused one cannot act on SIGTERM
    signal(running, name);
    await Promise.race([gone, new Promise((done) => setTimeout(done, STOP_MS))]);
    if (running.exitCode === null && running.signalCode === null) {
      signal(running, "SIGKILL");
      await gone;
    }
  };

  // A test runner that exits without stop() (a hook timing out) must not leave it behind.
  const leftBehind = () => {
    if (child) signal(child, "SIGKILL");
    dir.remove();
  };
  process.once("exit", leftBehind);

  try {
    await launch();
  } catch (error) {
    process.removeListener("exit", leftBehind);
    dir.remove();
    throw error;
  }
  return {
    host,
    port,
    tlsPort,
    socket,
    get pid() {
      return child!.pid!;
    },
    get password() {
      return options.password;
    },
    get url() {
      const auth = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}@`;
      return `redis://${auth}${host}:${port}`;
    },
    dir,
    log: () => said,
    async stop() {
      process.removeListener("exit", leftBehind);
      await kill("SIGTERM");
      dir.remove();
    },
    kill9: () => kill("SIGKILL"),
    pause: () => signal(child!, "SIGSTOP"),
    resume: () => signal(child!, "SIGCONT"),
    async restart(changes = {}) {
      await kill("SIGTERM");
      options = { ...options, ...changes };
      await launch();
    },
  };
}
