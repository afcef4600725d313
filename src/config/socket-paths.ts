// Where the sockets are, for the client commands and exim-snippet: only [daemon] policy_socket,
// control_socket, policy_listen and pidfile are read, so that a typo elsewhere in the file (the moment a postmaster runs `reload`) does not stop
// `status` or `reload` from reaching the daemon, which judges the whole file itself.
import { readConfigText } from "./config-file.ts";
import { dirname, resolve } from "node:path";
import * as v from "valibot";
import { parseIni, sectionProblems } from "./ini.ts";
import { DAEMON_SECTION } from "./schema.ts";
import type { ListenAddress } from "./values.ts";

export interface SocketPaths {
  policySocket: string;
  controlSocket: string;
  /** undefined for policy_listen = none; an unreadable value counts as the default. */
  policyListen?: ListenAddress;
  /** Where a daemon run with this file writes its PID: a client that finds no socket looks there. */
  pidfile: string;
  /**
   * Why policy_listen as written is no address (`FILE:LINE: daemon.policy_listen: problem`, as config-test
   * says it): a client reaches the daemon at the default all the same, but the Exim snippets would send
   * every request to an address the daemon, refusing such a file, never listens on.
   */
  policyListenProblem?: string;
}

export function socketPathsFrom(file: string): SocketPaths {
  let text = "";
  try {
    text = readConfigText(file); // a FIFO would block, 3 GB be read: config-file.ts
  } catch {
    // No readable config: the defaults are where a packaged daemon listens.
  }
  const document = parseIni(text);
  const daemon = document.sections.find((section) => section.name === "daemon");
  const raw = (key: "policy_socket" | "control_socket" | "policy_listen" | "pidfile") =>
    daemon?.entries.find((entry) => entry.key === key)?.value || DAEMON_SECTION[key].default;
  const path = (key: "policy_socket" | "control_socket" | "pidfile") =>
    resolve(dirname(resolve(file)), raw(key));
  const listen = DAEMON_SECTION.policy_listen;
  const parsed = v.safeParse(listen.schema, raw("policy_listen"));
  const written = daemon?.entries.find((entry) => entry.key === "policy_listen");
  const repeated = sectionProblems(document, "daemon").find((found) =>
    found.key === "daemon.policy_listen" || found.key === "[daemon]"
  );
  return {
    policySocket: path("policy_socket"),
    controlSocket: path("control_socket"),
    policyListen: parsed.success ? parsed.output : v.parse(listen.schema, listen.default),
    pidfile: path("pidfile"),
    policyListenProblem: repeated
      ? `${file}:${repeated.line}: ${repeated.key}: ${repeated.problem}`
      : !parsed.success && written
      ? `${file}:${written.line}: daemon.policy_listen: ${parsed.issues[0].message}`
      : undefined,
  };
}
