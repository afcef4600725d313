// status | top | show | reset | reload | check: thin clients of the running daemon. Exit 0 on success,
// 1 on a refusal (unknown key, invalid config on reload), 2 when the daemon cannot be reached, 75 when it
// answers that it cannot do it now (try again).
import type { SenderDetail, SenderRow } from "../policy/sender-report.ts";
import { socketPathsFrom } from "../config/socket-paths.ts";
import {
  controlRequest,
  type ControlResponse,
  DaemonUnreachable,
  NothingListens,
  notOurs,
  policyRequest,
} from "./control-client.ts";
import { runningElsewhere, runningPid } from "./running-elsewhere.ts";
import { formatSender, formatSenders, formatStatus, type StatusJson } from "./status-format.ts";
import { printable } from "../policy/printable.ts";
import { SCOPE_HEADER, THIS_HOST_ONLY, THIS_HOST_ONLY_LINE } from "../control/counts-scope.ts";
import { parseReadsocketRequest } from "../protocols/readsocket.ts";
import { MAX_KEY_LENGTH, MAX_KEY_PART_LENGTH, TOO_LONG_KEY } from "../policy/limit-key.ts";
import { KEY_KINDS } from "../model/limit.ts";
import { spfExemption } from "../spf/exemption.ts";
import { readConfig } from "./config-source.ts";
import { spfCommand } from "./spf-command.ts";
import type { ClientCommand } from "./help.ts";

export interface ClientOptions {
  config: string;
  socket?: string;
  json?: boolean;
  top?: number;
  rule?: string;
  request?: string; // check: the request line, values quoted (check-request.ts)
  timeoutMs?: number; // --timeout; without it, the default (client-timeout.ts)
  args: string[];
}

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`mailpolicyd: ${text}\n`);

function socketFor(command: ClientCommand, options: ClientOptions): string {
  if (options.socket) return options.socket;
  const paths = socketPathsFrom(options.config);
  return command === "check" ? paths.policySocket : paths.controlSocket;
}

async function execute(command: ClientCommand, socket: string, options: ClientOptions): Promise<number> {
  const key = options.args[0];
  switch (command) {
    case "status": {
      const response = await controlRequest(socket, "GET", "/status", options.timeoutMs);
      if (response.status !== 200) return fail(response);
      const status = response.json<StatusJson>(isStatus);
      out(options.json ? response.body : formatted(socket, response, () => formatStatus(status)));
      return 0;
    }
    case "top": {
      const query = `/senders?top=${options.top ?? 20}${
        options.rule ? `&rule=${encodeURIComponent(options.rule)}` : ""
      }`;
      const response = await controlRequest(socket, "GET", query, options.timeoutMs);
      if (response.status !== 200) return fail(response);
      const rows = response.json<SenderRow[]>(Array.isArray);
      outCounts(response, options, () => formatted(socket, response, () => formatSenders(rows)));
      return 0;
    }
    case "show": {
      if (key.length > MAX_KEY_LENGTH) return noSuchKey(key);
      const response = await controlRequest(socket, "GET", senderPath(key), options.timeoutMs);
      if (response.status !== 200) return fail(response);
      const { limits } = response.json<{ limits: SenderDetail[] }>(having("limits", Array.isArray));
      outCounts(response, options, () => formatted(socket, response, () => formatSender(key, limits)));
      return 0;
    }
    case "reset": {
      if (key.length > MAX_KEY_LENGTH) return noSuchKey(key);
      const response = await controlRequest(socket, "DELETE", senderPath(key), options.timeoutMs);
      if (response.status !== 200) return fail(response);
      const { reset, restoring } = response.json<{ reset: number; restoring?: boolean }>(
        having("reset", Number.isInteger),
      );
      out(
        restoring
          ? `${printable(key)}: reset; the state file is still being restored after a start, and its ` +
            `counters of this key will not come back`
          : `${printable(key)}: counters reset in ${reset} limit(s)`,
      );
      return 0;
    }
    case "reload": {
      const response = await controlRequest(socket, "POST", "/reload", options.timeoutMs);
      if (response.status === 200) {
        const { config } = response.json<{ config: string }>(having("config", isString));
        out(`reloaded ${config}`);
        return 0;
      }
      const body = response.json<{ errors?: string[]; error?: string }>(isRefusal);
      for (const line of body.errors ?? [body.error!]) err(printable(line));
      if (TRY_AGAIN_STATUSES.has(response.status)) return TRY_AGAIN;
      err("reload refused: the running config stays");
      return 1;
    }
    case "check": {
      const line = options.request ?? options.args.join(" ");
      const reply = await policyRequest(socket, line, options.timeoutMs);
      out(reply);
      await traceSpf(line, options);
      return 0;
    }
  }
}

/**
 * A key longer than any a limit counts has no counter: said without asking, as the daemon would answer
 * (exit 1), since its query may be longer than a request head may be. Its length, not the key: a key that
 * long is pasted by mistake, and would fill the terminal.
 */
function noSuchKey(key: string): number {
  err(
    `no counter for a key of ${key.length} characters: no key is longer than ${MAX_KEY_LENGTH} ` +
      `(${KEY_KINDS.length} parts of at most ${MAX_KEY_PART_LENGTH}; a longer value is counted as ${TOO_LONG_KEY})`,
  );
  return 1;
}

/**
 * When the config's [spf] checks this request (its stage, not exempt): the same check again here, with
 * its trace, as `mailpolicyd spf` prints it. The daemon may have answered from its result cache; this
 * check asks DNS through [spf]'s servers now, so a record changed since shows here first (docs/spf.md).
 */
async function traceSpf(line: string, options: ClientOptions): Promise<void> {
  const request = parseReadsocketRequest(new TextEncoder().encode(`${line}\n`));
  if (request.kind !== "attributes") return;
  const loaded = readConfig({ file: options.config });
  const spf = loaded.ok ? loaded.config.spf : undefined;
  if (spf === undefined || request.stage !== spf.stage) return;
  const { client_address = "", sender = "", helo_name = "", sasl_username } = request.attributes;
  const parts = { clientAddress: client_address, sender, saslUsername: sasl_username };
  if (spfExemption(spf, parts) !== undefined) return;
  out("\nSPF, checked again now with [spf]'s DNS servers (the daemon may have answered from its cache):");
  await spfCommand({ config: options.config, configGiven: false, args: [client_address, sender, helo_name] });
}

/**
 * An answer's text for a person. Its shape check looks at the top of it; a field further in of another type
 * (`[1]` from another program for /senders, an alert's time that is no time) fails in the formatting: that
 * is an answer not mailpolicyd's too, said as such (exit 2), not a TypeError's stack trace.
 */
function formatted(socket: string, response: ControlResponse, format: () => string): string {
  try {
    return format();
  } catch {
    throw notOurs(socket, "not the JSON it sends", response.body);
  }
}

/**
 * The answer of show or top, with the line that says when it holds this host's counts only (Redis away):
 * first on stdout, or on stderr with --json, whose stdout stays the answer's JSON.
 */
function outCounts(response: ControlResponse, options: ClientOptions, text: () => string): void {
  const thisHostOnly = response.headers[SCOPE_HEADER] === THIS_HOST_ONLY;
  if (options.json) {
    if (thisHostOnly) err(THIS_HOST_ONLY_LINE);
    out(response.body);
    return;
  }
  out(thisHostOnly ? `${THIS_HOST_ONLY_LINE}\n${text()}` : text());
}

/**
 * A key goes in the query: as a path segment, `.` and `..` (which encodeURIComponent leaves as they are)
 * would be folded away by URL parsing, and `show ..` asked for `/`.
 */
export const senderPath = (key: string): string => `/sender?key=${encodeURIComponent(key)}`;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const isString = (value: unknown) => typeof value === "string";
const field = (value: unknown, name: string): unknown => isRecord(value) ? value[name] : undefined;
/** The check of an answer that must be an object whose `name` passes `check`. */
const having = (name: string, check: (value: unknown) => boolean) => (value: unknown) =>
  check(field(value, name));

/** A refused reload: the config's errors (400), or one error (the socket's 403, 429, 503). */
const isRefusal = (value: unknown): boolean => {
  const errors = field(value, "errors");
  if (errors !== undefined) return Array.isArray(errors) && errors.every(isString);
  return isString(field(value, "error"));
};

/** What formatStatus reads without a guard: an answer without it is not a mailpolicyd's /status. */
const isStatus = (value: unknown): boolean =>
  having("version", isString)(value) &&
  ["actors", "restarts", "rates"].every((name) => isRecord(field(value, name))) &&
  isRecord(field(field(value, "requests"), "byAction")) &&
  Array.isArray(field(field(value, "alerts"), "recent"));

// Sysexits' EX_TEMPFAIL. The daemon answered but could not do it now: the counters actor restarting or
// Redis not answering (503), too many requests waiting (429), no connection free (503). Not 1: a script
// must tell "no counter for KEY" from a reset Redis did not confirm, which may or may not have been done.
const TRY_AGAIN = 75;
const TRY_AGAIN_STATUSES = new Set([429, 503]);

/**
 * A non-200 answer: its error printed; 75 when the daemon says to try again, else 1 (refused). Printable
 * (status-format.ts): the error names the key or rule asked about, which may hold what mail sent (a key
 * copied from `top`, typed with $'…'), and the terminal obeyed its escapes.
 */
function fail(response: ControlResponse): number {
  let error: unknown;
  try {
    error = field(JSON.parse(response.body), "error");
  } catch { /* not JSON: the body as it is */ }
  err(printable(isString(error) ? error as string : response.body));
  return TRY_AGAIN_STATUSES.has(response.status) ? TRY_AGAIN : 1;
}

export async function runClientCommand(command: ClientCommand, options: ClientOptions): Promise<number> {
  const socket = socketFor(command, options);
  try {
    return await execute(command, socket, options);
  } catch (error) {
    if (error instanceof NothingListens && !options.socket) {
      const { pidfile } = socketPathsFrom(options.config);
      const pid = runningPid(pidfile);
      if (pid !== undefined) {
        err(runningElsewhere(socket, command === "check" ? "policy_socket" : "control_socket", pidfile, pid));
        return 2;
      }
    }
    if (error instanceof DaemonUnreachable) {
      err(error.message);
      return 2;
    }
    throw error;
  }
}
