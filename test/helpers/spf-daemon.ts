// A daemon in this process whose [spf] asks Debian's nsd (SPF_ZONE, and any zones besides) through a relay
// that can stop answering (spf-zone.ts), with its log lines kept: the SPF concern's daemon tests share it.
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "./daemon-process.ts";
import type { Nsd } from "./nsd.ts";
import { askPolicy } from "./policy-client.ts";
import { type DnsRelay, spfDaemonConfigText, startDnsRelay, startSpfNsd } from "./spf-zone.ts";
import { makeTempDir, type TempDir } from "./temp-dir.ts";

export interface SpfDaemon {
  /** The daemon's directory: policy.sock, control.sock, its state. */
  dir: TempDir;
  nsd: Nsd;
  relay: DnsRelay;
  daemon: Daemon;
  lines: string[];
  /** An RCPT from `ip` for `sender` over the policy socket, as Exim asks; the daemon's reply line. */
  ask(ip: string, sender: string, helo?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Started once its policy socket listens; `stop` stops what was started, also after a failed start. */
export async function startSpfDaemon(zones: Record<string, string> = {}): Promise<SpfDaemon> {
  const dir = makeTempDir();
  const lines: string[] = [];
  let nsd: Nsd | undefined;
  let relay: DnsRelay | undefined;
  let daemon: Daemon | undefined;
  const stop = async () => {
    daemon?.stop();
    relay?.close();
    await nsd?.stop();
    dir.remove();
  };
  try {
    nsd = await startSpfNsd(zones);
    relay = await startDnsRelay(nsd.port);
    const parsed = parseConfig(spfDaemonConfigText(relay.port), "test.conf", dir.path);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("policy: listening")), 5000, "listener");
  } catch (error) {
    await stop();
    throw error;
  }
  let instance = 0;
  const ask = (ip: string, sender: string, helo = "mail.spf.test") =>
    askPolicy(
      dir.file("policy.sock"),
      `rcpt sender=${sender} recipient=user@example.net client_address=${ip} helo_name=${helo} ` +
        `instance=i${++instance}\n`,
    );
  return { dir, nsd, relay, daemon, lines, ask, stop };
}
