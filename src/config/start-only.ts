// The settings read only when the daemon starts, and what a reload that changes one says: that it "takes
// effect after a restart", meaning the daemon's restart. The daemon says it (daemon.ts), not the actor that
// reads the setting: an actor that is down when the reload arrives (failed, waiting for its restart) never
// hears of it, and a postmaster who moved a listener read nothing. An actor the supervisor restarts after a
// failure must not take these settings from the reloaded config: a listener would then bind the new address
// while the log said it would not, and Exim or Postfix, still pointed at the old one, find nothing there.
import type { LogFields } from "../log.ts";
import type { Config, DaemonConfig, SpamdConfig } from "./types.ts";
import type { PostfixConfig } from "../model/postfix.ts";

/** One or more start-only settings a reload reports together when any of them differs from the start. */
interface Notice<T> {
  keys: ReadonlyArray<keyof T>;
  message: string;
  /** Whether the settings are used at all by the daemon as it started (socket modes only with a socket). */
  applies?: (atStart: T) => boolean;
  /** What stays in force until the restart. */
  inForce?: (atStart: T) => LogFields;
}

const DAEMON_KEYS: ReadonlyArray<[keyof DaemonConfig, string]> = [
  ["policySocket", "policy_socket"],
  ["policyListen", "policy_listen"],
  ["controlSocket", "control_socket"],
  ["controlListen", "control_listen"],
  ["controlGroup", "control_group"],
  ["socketMode", "socket_mode"],
  ["socketGroup", "socket_group"],
  ["pidfile", "pidfile"],
  ["maxConnections", "max_connections"],
  ["requestTimeoutMs", "request_timeout"],
  ["stateIntervalMs", "state_interval"],
];

const DAEMON_NOTICES: ReadonlyArray<Notice<DaemonConfig>> = DAEMON_KEYS.map(([key, name]) => ({
  keys: [key],
  message: `[daemon] ${name} changed: takes effect after a restart`,
}));

const POSTFIX_NOTICES: ReadonlyArray<Notice<PostfixConfig>> = [
  {
    keys: ["listen", "socket", "milterListen", "milterSocket"],
    message: "listen, socket, milter_listen or milter_socket changed: takes effect after a restart",
  },
  {
    // Set on the socket once, when it is made, as [daemon]'s are.
    keys: ["socketMode", "socketGroup"],
    message: "socket_mode or socket_group changed: takes effect after a restart",
    applies: (postfix) => postfix.socket !== undefined || postfix.milterSocket !== undefined,
    inForce: (postfix) => ({
      socket_mode: postfix.socketMode.toString(8).padStart(4, "0"),
      socket_group: postfix.socketGroup ?? "",
    }),
  },
  {
    // The framing holds both from the start (one per listener, shared by its connections).
    keys: ["idleTimeoutMs"],
    message: "idle_timeout changed: takes effect after a restart",
    inForce: (postfix) => ({ idle_timeout_ms: postfix.idleTimeoutMs }),
  },
  {
    keys: ["milterTimeoutMs"],
    message: "milter_timeout changed: takes effect after a restart",
    inForce: (postfix) => ({ milter_timeout_ms: postfix.milterTimeoutMs }),
  },
  {
    keys: ["maxRequestBytes"],
    message: "max_request_size changed: takes effect after a restart",
    inForce: (postfix) => ({ max_request_size: postfix.maxRequestBytes }),
  },
];

const SPAMD_NOTICES: ReadonlyArray<Notice<SpamdConfig>> = [
  {
    keys: ["listen", "socket", "maxMessageSize", "maxScans", "timeoutMs"],
    message: "listen, socket, max_message_size, max_scans or timeout changed: takes effect after a restart",
  },
];

const keysOf = <T>(notices: ReadonlyArray<Notice<T>>) => notices.flatMap((notice) => notice.keys);

// Listen addresses are objects; each value comes from the same parser, so the same fields in the same order.
const sameValue = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

function pinned<T extends object>(current: T, atStart: T, notices: ReadonlyArray<Notice<T>>): T {
  const result = { ...current };
  for (const key of keysOf(notices)) result[key] = atStart[key];
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
    daemon: pinned(config.daemon, atStart.daemon, DAEMON_NOTICES),
    postfix: config.postfix && atStart.postfix
      ? pinned(config.postfix, atStart.postfix, POSTFIX_NOTICES)
      : config.postfix,
    spamd: config.spamd && atStart.spamd ? pinned(config.spamd, atStart.spamd, SPAMD_NOTICES) : config.spamd,
  };
}

/** A line for the log: `source` is the part of the daemon that keeps the setting it started with. */
export interface StartOnlyChange {
  source: "daemon" | "postfix" | "spamd";
  message: string;
  fields?: LogFields;
}

function changed<T extends object>(
  source: StartOnlyChange["source"],
  next: T | undefined,
  atStart: T | undefined,
  notices: ReadonlyArray<Notice<T>>,
): StartOnlyChange[] {
  // A section added or removed by the reload is the daemon's to speak of (daemon.ts, OPTIONAL_ACTORS).
  if (next === undefined || atStart === undefined) return [];
  return notices
    .filter((notice) => notice.applies?.(atStart) ?? true)
    .filter((notice) => notice.keys.some((key) => !sameValue(next[key], atStart[key])))
    .map((notice) => ({ source, message: notice.message, fields: notice.inForce?.(atStart) }));
}

/**
 * What a reload to `next` says of the start-only settings it changes, against the config the daemon started
 * with (not the last reload's: a second reload says it again). One line per notice, whatever state the
 * actor that reads them is in.
 */
export function startOnlyChanges(next: Config, atStart: Config): StartOnlyChange[] {
  return [
    ...changed("daemon", next.daemon, atStart.daemon, DAEMON_NOTICES),
    ...changed("postfix", next.postfix, atStart.postfix, POSTFIX_NOTICES),
    ...changed("spamd", next.spamd, atStart.spamd, SPAMD_NOTICES),
  ];
}
