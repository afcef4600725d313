// Real deliveries for tests with `exim -bd`: the daemon and an Exim on a loopback port that asks it (plain
// snippet, over TCP) and delivers every local recipient (example.net) into dir's maildir, and swaks as
// the sending client.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "./daemon-process.ts";
import {
  type EximDaemon,
  maildirDelivery,
  prepareEximDir,
  startEximDaemon,
  writeEximConfig,
} from "./exim.ts";
import { freePort } from "./smtp-receiver.ts";
import { makeTempDir, type TempDir } from "./temp-dir.ts";

export interface MaildirExim {
  dir: TempDir;
  daemon: DaemonProcess;
  exim: EximDaemon;
  /** The delivered messages, oldest first by file name. */
  messages(): string[];
  /** Stops Exim and the daemon (cleanly) and removes the temp dir. */
  stop(): Promise<void>;
}

export interface MaildirEximOptions {
  /** The spamd front's spamd_address, when the daemon's config has [spamd] (the snippet then scans). */
  spamd?: string;
  /** More lines for Exim's main section. */
  eximMain?: string;
}

/**
 * `exim -bd` on `port` (in a dir prepareEximDir made) asking the daemon at `address` (Exim's readsocket spec)
 * with the plain snippet, taking mail for example.net only, delivering it into dir's maildir.
 */
export function startDeliveringExim(
  dir: TempDir,
  address: string,
  port: number,
  options: MaildirEximOptions = {},
): Promise<EximDaemon> {
  const config = writeEximConfig(dir, {
    address,
    spamd: options.spamd,
    mainExtra: `local_interfaces = <; 127.0.0.1\nnever_users = root\n${options.eximMain ?? ""}`,
    siteRcptAcl: "  accept domains = +local_domains\n  deny message = relay not permitted\n",
    ...maildirDelivery(dir),
  });
  return startEximDaemon(dir, config, port);
}

/**
 * `daemonConfig(eximPort, dir)`: the daemon's config lines (after [daemon]'s paths); alerts may use the
 * port, or a program in dir (Exim's config will be dir's exim.conf).
 */
export async function startMaildirExim(
  daemonConfig: (eximPort: number, dir: TempDir) => string,
  options: MaildirEximOptions = {},
): Promise<MaildirExim> {
  const dir = makeTempDir();
  prepareEximDir(dir);
  const port = await freePort();
  const daemon = await startDaemonProcess(dir, writeTestConfig(dir, daemonConfig(port, dir)));
  const exim = await startDeliveringExim(dir, daemon.eximAddress, port, options);
  const delivered = dir.file("maildir/new");
  return {
    dir,
    daemon,
    exim,
    messages: () =>
      existsSync(delivered)
        ? readdirSync(delivered).sort().map((name) => readFileSync(`${delivered}/${name}`, "utf8"))
        : [],
    async stop() {
      await exim.stop();
      await daemon.stopCleanly();
      dir.remove();
    },
  };
}
