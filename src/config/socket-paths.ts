// Where the sockets are, for the client commands: only [daemon] policy_socket and control_socket are
// read, so that a typo elsewhere in the file (the moment a postmaster runs `reload`) does not stop
// `status` or `reload` from reaching the daemon, which judges the whole file itself.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseIni } from "./ini.ts";
import { DAEMON_SECTION } from "./schema.ts";

export interface SocketPaths {
  policySocket: string;
  controlSocket: string;
}

export function socketPathsFrom(file: string): SocketPaths {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // No readable config: the defaults are where a packaged daemon listens.
  }
  const daemon = parseIni(text).sections.find((section) => section.name === "daemon");
  const value = (key: "policy_socket" | "control_socket") =>
    resolve(
      dirname(resolve(file)),
      daemon?.entries.find((entry) => entry.key === key)?.value || DAEMON_SECTION[key].default!,
    );
  return { policySocket: value("policy_socket"), controlSocket: value("control_socket") };
}
