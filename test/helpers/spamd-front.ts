// An in-process daemon whose spamd front is up, scoring with the marker concern (marker-concern.ts): the
// spamd front's real-component tests start it this way.
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "./daemon-process.ts";
import { type MarkerConcern, markerConcern } from "./marker-concern.ts";
import type { TempDir } from "./temp-dir.ts";
import { type EximDaemon, maildirDelivery, startEximDaemon, writeEximConfig } from "./exim.ts";
import { freePort } from "./smtp-receiver.ts";

export interface FrontDaemon {
  daemon: Daemon;
  marker: MarkerConcern;
  /** The daemon's log lines so far. */
  lines: string[];
}

/** Sockets, pidfile and state in dir; `policyListen` ("none" or HOST:PORT); `spamd`: the [spamd] lines. */
export async function startFrontDaemon(
  dir: TempDir,
  policyListen: string,
  spamd: string,
): Promise<FrontDaemon> {
  const parsed = parseConfig(
    `[daemon]\npolicy_socket = ${dir.file("policy.sock")}\ncontrol_socket = ${dir.file("control.sock")}\n` +
      `policy_listen = ${policyListen}\npidfile = ${dir.file("pid")}\nstate_file = ${
        dir.file("state.json")
      }\n` +
      `[spamd]\n${spamd}`,
    "test.conf",
    dir.path,
  );
  assert.ok(parsed.ok, JSON.stringify(parsed));
  const lines: string[] = [];
  const marker = markerConcern();
  const daemon = startDaemon({
    config: parsed.config,
    log: createLogger("info", (line) => lines.push(line)),
    extraConcerns: [marker],
  });
  await waitFor(() => lines.some((line) => line.includes("spamd: listening")), 5000, "the spamd front");
  return { daemon, marker, lines };
}

// A DATA ACL for tests: copies what Exim made of the front's reply into X-Test-* headers, and refuses spam
// (score 10 and up). A subject starting "rspamd" marks mail asked with variant=rspamd (spamd_address picks
// the form by subject). The rspamd variant: $spam_action is the front's verdict. SpamAssassin's: Exim sets $spam_action itself
// ("reject" whenever score ≥ the reported threshold, the mark threshold), so the ACL compares the score.
export const SPAM_TEST_DATA_ACL = `  warn
    spam       = nobody:true/defer_ok
    add_header = X-Test-Score: $spam_score\\nX-Test-Score-Int: $spam_score_int\\nX-Test-Bar: $spam_bar\\nX-Test-Action: $spam_action\\nX-Test-Report: $spam_report
  warn
    spam       = nobody/defer_ok
    add_header = X-Test-Is-Spam: yes
  deny
    condition  = \${if match{$h_subject:}{^rspamd}{\${if eq{$spam_action}{reject}}}{\${if >={$spam_score_int}{100}}}}
    message    = spam: score $spam_score
  accept
`;

/**
 * A real Exim (exim -bd on a free loopback port, delivering into dir's maildir) whose DATA ACL is
 * SPAM_TEST_DATA_ACL and whose spamd_address is `spamdAddress` (an expansion may pick it per message).
 * `delivery`: routers and transports put before the maildir's (such as one through a transport_filter).
 */
export async function startSpamTestExim(
  dir: TempDir,
  spamdAddress: string,
  delivery: { routers: string; transports: string } = { routers: "", transports: "" },
): Promise<EximDaemon> {
  const maildir = maildirDelivery(dir);
  const config = writeEximConfig(dir, {
    address: "inet:127.0.0.1:1",
    withSnippet: false,
    mainExtra: `local_interfaces = <; 127.0.0.1\nnever_users = root\nspamd_address = ${spamdAddress}\n`,
    siteRcptAcl: "  accept domains = +local_domains\n  deny message = relay not permitted\n",
    siteDataAcl: SPAM_TEST_DATA_ACL,
    routers: delivery.routers + maildir.routers,
    transports: delivery.transports + maildir.transports,
  });
  return await startEximDaemon(dir, config, await freePort());
}
