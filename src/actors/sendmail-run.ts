// One run of the alert's sendmail program (alert-transport.ts, [alerts] sendmail), as nodemailer's sendmail
// transport spawns it: with an argument list, never through a shell. nodemailer waits for the program however
// long it runs and never reads what it writes. So the run is killed past a deadline (an msmtp stuck on its
// relay held the alerts' queue for good), and its stderr is read and kept, bounded: a failed run's error says
// what the program said (policy/sendmail-said.ts), where it said only the exit code. Its stdout is read and
// dropped: unread, a program that wrote a pipe's worth blocked until the deadline killed it.
import type { ChildProcess, spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import type { Transporter } from "nodemailer";
import { SAID_MAX_CHARS, sendmailSaid } from "../policy/sendmail-said.ts";

/** Bytes of stderr kept: room for SAID_MAX_CHARS characters of UTF-8 text, the rest read and dropped. */
const KEPT_BYTES = SAID_MAX_CHARS * 4;

/**
 * How long a failed run's error waits for the end of its stderr after the program exited: the pipe's last
 * bytes may be read after the exit is reported, and a child the program left behind may hold the pipe open.
 */
const STDERR_END_WAIT_MS = 1000;

export class SendmailRun {
  readonly #stderr: Buffer[] = [];
  #keptBytes = 0;
  #stderrEnded: Promise<void> = Promise.resolve();

  constructor(readonly deadlineMs: number) {}

  /** The transporter, its program killed past the deadline and its output read (a field nodemailer keeps). */
  attach(transporter: Transporter): Transporter {
    // deno-lint-ignore no-explicit-any
    const sendmail = (transporter as any).transporter;
    const spawned = sendmail._spawn as typeof spawn;
    sendmail._spawn = (path: string, args: string[]) => this.#watch(spawned(path, args));
    return transporter;
  }

  #watch(child: ChildProcess): ChildProcess {
    const timer = setTimeout(() => child.kill("SIGKILL"), this.deadlineMs);
    child.once("exit", () => clearTimeout(timer));
    child.stdout?.resume();
    const stderr = child.stderr;
    if (!stderr) return child;
    this.#stderrEnded = new Promise((resolve) => {
      stderr.once("end", resolve);
      stderr.once("close", resolve);
      stderr.once("error", resolve);
    });
    stderr.on("data", (chunk: Buffer) => {
      if (this.#keptBytes >= KEPT_BYTES) return;
      const kept = chunk.subarray(0, KEPT_BYTES - this.#keptBytes);
      this.#stderr.push(kept);
      this.#keptBytes += kept.length;
    });
    return child;
  }

  /** The error the run failed with, and what the program said on stderr (read to its end, within a wait). */
  async failure(error: unknown): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => timer = setTimeout(resolve, STDERR_END_WAIT_MS));
    await Promise.race([this.#stderrEnded, waited]);
    clearTimeout(timer);
    const said = sendmailSaid(Buffer.concat(this.#stderr).toString("utf8"));
    if (said === undefined || !(error instanceof Error)) return error;
    return Object.assign(new Error(`${error.message}; it said: ${said}`), {
      code: (error as { code?: unknown }).code,
    });
  }
}
