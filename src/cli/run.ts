import { lstatSync, readFileSync } from "node:fs";
import { type Daemon, PidfileUnwritable, startDaemon } from "../daemon.ts";
import { createLogger, type LogLevel } from "../log.ts";
import { readConfig } from "./config-source.ts";
import { statePathProblem } from "../store/regular-file.ts";
import { lockStateFile } from "../store/state-lock.ts";

// How long a stop waits for clients that connected but have not sent their request yet; a request that
// has arrived is answered within microseconds. Within the init script's and systemd's stop timeouts.
const STOP_GRACE_MS = 2000;

/** A process's name as the kernel keeps it (what start-stop-daemon --name matches); undefined off Linux. */
function processName(pid: number | "self"): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trimEnd();
  } catch {
    return undefined;
  }
}

/** Another live process already holds the pidfile: refuse rather than fight over the socket. */
function runningPid(pidfile: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidfile, "utf8"), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return undefined;
  }
  // A daemon killed with SIGKILL (or by the OOM killer) leaves its pidfile, and on a busy mail host the
  // kernel soon gives that PID to another process (an Exim delivery, often as another user): a live
  // process under another name is not a second mailpolicyd, and refusing would leave none running.
  const theirs = processName(pid);
  const ours = processName("self");
  if (theirs !== undefined && ours !== undefined && theirs !== ours) return undefined;
  return pid;
}

/**
 * Whether anything is at `path`, a symbolic link included: existsSync follows links, so a link that loops or
 * points nowhere read as "no config file" under the error that said ELOOP.
 */
function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export function runCommand(
  source: { file?: string; embedded?: boolean },
  logLevel?: LogLevel,
): number | "running" {
  const loaded = readConfig(source);
  if (!loaded.ok) {
    for (const error of loaded.errors) process.stderr.write(`${error}\n`);
    // The first `mailpolicyd run` on a host without the package finds no /etc/mailpolicyd/mailpolicyd.conf:
    // "config invalid" would send the postmaster looking for an error in a file that is not there.
    const missing = source.file !== undefined && !source.embedded && !pathExists(source.file);
    process.stderr.write(
      missing
        ? `mailpolicyd: no config file ${source.file}, not starting: give --config FILE (\`mailpolicyd ` +
          `default-config\` prints a commented starting point), or try --default-config\n`
        : "mailpolicyd: config invalid, not starting\n",
    );
    return 1;
  }
  const config = loaded.config;
  const log = createLogger(logLevel ?? config.daemon.logLevel);
  for (const warning of loaded.warnings ?? []) log.warn("config", warning);
  const other = runningPid(config.daemon.pidfile);
  if (other !== undefined) {
    log.error("daemon", "already running, not starting a second instance", {
      pid: other,
      pidfile: config.daemon.pidfile,
    });
    return 1;
  }
  // A directory, FIFO or unreadable file at state_file would mean saves that never succeed, a start that
  // hangs, or counts overwritten unread: refuse to start and say why (docs/configuration.md).
  const stateProblem = statePathProblem(config.daemon.stateFile);
  if (stateProblem !== undefined) {
    log.error("daemon", `state_file ${stateProblem}; not starting`, { file: config.daemon.stateFile });
    return 1;
  }
  // Another daemon on the same state_file (another config, another pidfile) would write the file and its
  // journal over this one's: each would lose the other's counts at every save (store/state-lock.ts).
  const stateLock = lockStateFile(config.daemon.stateFile);
  if (!stateLock.ok) {
    const file = config.daemon.stateFile;
    if (stateLock.holder) {
      log.error("daemon", "state_file is in use by another mailpolicyd, not starting", {
        file,
        pid: stateLock.holder.pid,
        lock: stateLock.path,
      });
    } else log.error("daemon", `state_file ${stateLock.error}; not starting`, { file, lock: stateLock.path });
    return 1;
  }

  // Errors that escape every actor: log them and keep answering; dying would drop the MTA's requests.
  process.on(
    "uncaughtException",
    (error) => log.error("daemon", "uncaught exception", { error: error.stack ?? String(error) }),
  );
  process.on(
    "unhandledRejection",
    (error) => log.error("daemon", "unhandled rejection", { error: String(error) }),
  );

  // Caught from the moment the pidfile names this process (startDaemon writes it first): a SIGHUP from the
  // init script then reloads rather than ends the daemon; one before the daemon is up has nothing newer to
  // read than the config just loaded.
  let started: Daemon | undefined;
  process.on("SIGHUP", () => started?.reloadFromSource());
  try {
    started = startDaemon({
      config,
      log,
      stateLock: stateLock.lock,
      loadConfig: () => {
        const next = readConfig(source);
        if (next.ok && logLevel) next.config.daemon.logLevel = logLevel;
        return next;
      },
    });
  } catch (error) {
    if (!(error instanceof PidfileUnwritable)) throw error;
    log.error("daemon", `pidfile cannot be written: ${error.message}; not starting`, {
      file: config.daemon.pidfile,
    });
    stateLock.lock.release();
    return 1;
  }
  const daemon = started;
  // SIGTERM: stop accepting, answer every request already accepted, write the state, exit. A second
  // signal while draining exits at once (after the state is written).
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      daemon.stop();
      process.exit(0);
    }
    stopping = true;
    log.info("daemon", "shutting down: answering accepted requests", { signal });
    const unanswered = await daemon.drain(STOP_GRACE_MS);
    if (unanswered > 0) log.warn("daemon", "stopping with requests unanswered", { unanswered });
    daemon.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  return "running";
}
