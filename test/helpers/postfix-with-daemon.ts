// An in-process daemon whose [postfix] listener a real Postfix asks with `mailpolicyd postfix-snippet`'s own
// lines: the setup of the Postfix integration tests that need nothing more. The daemon's files and
// sockets are in the test's directory, its policy listener off (its port would clash with a running daemon).
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "./daemon-process.ts";
import type { PolicyWaits } from "../../src/postfix/snippet.ts";
import { pastedSnippet, type PostfixServer, startPostfix } from "./postfix.ts";
import { freePort } from "./smtp-receiver.ts";
import { makeTempDir, type TempDir } from "./temp-dir.ts";

export interface PostfixWithDaemon {
  dir: TempDir;
  daemon: Daemon;
  postfix: PostfixServer;
  /** The daemon's log lines. */
  lines: string[];
  /** Postfix's maillog and the daemon's log, for an assertion's message. */
  failure(): string;
  stop(): Promise<void>;
}

/**
 * `config`: the daemon's sections besides [daemon] and [postfix]; `mainExtra`: main.cf lines after the
 * snippet's; `waits`: the snippet's timeout or max_idle, as a postmaster may have edited them.
 */
export async function startPostfixWithDaemon(
  config: string,
  mainExtra = "",
  waits: Partial<PolicyWaits> = {},
): Promise<PostfixWithDaemon> {
  const dir = makeTempDir();
  const policyPort = await freePort();
  const parsed = parseConfig(
    `[daemon]\ncontrol_socket = control.sock\npidfile = d.pid\nstate_file = state.json\n` +
      `policy_listen = none\npolicy_socket = policy.sock\n${config}` +
      `[postfix]\nlisten = 127.0.0.1:${policyPort}\n`,
    "test.conf",
    dir.path,
  );
  assert.ok(parsed.ok, JSON.stringify(parsed));
  const lines: string[] = [];
  const daemon = startDaemon({
    config: parsed.config,
    log: createLogger("info", (line) => lines.push(line)),
  });
  let postfix: PostfixServer;
  try {
    await waitFor(() => lines.some((line) => line.includes("postfix: listening")), 5000, "Postfix listener");
    postfix = await startPostfix(dir, await freePort(), {
      recipientRestrictions: "", // the snippet's lines set it
      mainExtra: `${pastedSnippet(`inet:127.0.0.1:${policyPort}`, false, waits)}\n${mainExtra}`,
    });
  } catch (error) {
    daemon.stop();
    dir.remove();
    throw error;
  }
  return {
    dir,
    daemon,
    postfix,
    lines,
    failure: () => `maillog:\n${postfix.maillog()}\ndaemon:\n${lines.join("\n")}`,
    async stop() {
      await postfix.stop();
      daemon.stop();
      dir.remove();
    },
  };
}
