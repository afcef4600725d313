// The settings read only when the daemon starts: a reload that changes one logs that it "takes effect after a
// restart" (daemon.ts's RESTART_KEYS, and each listener for its own), meaning the daemon's restart. An actor
// the supervisor restarts after a failure must not take them from the reloaded config: a listener would
// then bind the new address while the log said it would not, and Exim or Postfix, still pointed at the old
// one, find nothing there.
import type { Config, DaemonConfig, SpamdConfig } from "./types.ts";
import type { PostfixConfig } from "../model/postfix.ts";

const DAEMON_START_ONLY = [
  "policySocket",
  "policyListen",
  "controlSocket",
  "controlListen",
  "controlGroup",
  "socketMode",
  "socketGroup",
  "pidfile",
  "maxConnections",
  "requestTimeoutMs",
  "stateIntervalMs",
] as const satisfies ReadonlyArray<keyof DaemonConfig>;

const POSTFIX_START_ONLY = [
  "listen",
  "socket",
  "milterListen",
  "milterSocket",
  "socketMode",
  "socketGroup",
  "idleTimeoutMs",
  "maxRequestBytes",
] as const satisfies ReadonlyArray<keyof PostfixConfig>;

const SPAMD_START_ONLY = [
  "listen",
  "socket",
  "maxMessageSize",
  "maxScans",
  "timeoutMs",
] as const satisfies ReadonlyArray<keyof SpamdConfig>;

function pinned<T extends object>(current: T, atStart: T, keys: ReadonlyArray<keyof T>): T {
  const result = { ...current };
  for (const key of keys) result[key] = atStart[key];
  return result;
}

/**
 * `config` with the start-only settings taken from `atStart`, the config the daemon started with; every
 * other setting stays the current one. A section the daemon started without keeps the current one's (its
 * actor does not run).
 */
export function withStartOnlySettings(config: Config, atStart: Config): Config {
  return {
    ...config,
    daemon: pinned(config.daemon, atStart.daemon, DAEMON_START_ONLY),
    postfix: config.postfix && atStart.postfix
      ? pinned(config.postfix, atStart.postfix, POSTFIX_START_ONLY)
      : config.postfix,
    spamd: config.spamd && atStart.spamd
      ? pinned(config.spamd, atStart.spamd, SPAMD_START_ONLY)
      : config.spamd,
  };
}
