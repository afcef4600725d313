// An in-process daemon whose spamd front is up, scoring with the marker concern (marker-concern.ts): the
// spamd front's real-component tests start it this way.
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "./daemon-process.ts";
import { type MarkerConcern, markerConcern } from "./marker-concern.ts";
import type { TempDir } from "./temp-dir.ts";

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
