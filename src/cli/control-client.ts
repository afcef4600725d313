// Clients of the running daemon: HTTP over the control socket (node:http, which Bun and Deno both
// provide) and one Exim-style exchange on the policy socket. Every failure to reach the daemon is a
// DaemonUnreachable, which the commands turn into exit code 2.
import { statSync } from "node:fs";
import http from "node:http";
import { groupName, userName } from "../store/account-names.ts";
import { formatDuration } from "../model/duration.ts";
import { DEFAULT_CLIENT_TIMEOUT_MS } from "./client-timeout.ts";
import { ExchangeTimeout, readsocketExchange } from "./readsocket-exchange.ts";

export class DaemonUnreachable extends Error {}

/** Nothing listens on the socket (none there, or a file nobody accepts on): not running, or elsewhere. */
export class NothingListens extends DaemonUnreachable {}

/** Says whose socket it is and how to get in without root: join its group (a new login picks it up). */
function permissionDenied(path: string): DaemonUnreachable {
  let socket;
  try {
    socket = statSync(path);
  } catch {
    return new DaemonUnreachable(
      `cannot access ${path}: permission denied on a folder above it (run as root)`,
    );
  }
  const group = groupName(socket.gid);
  const user = userName(process.getuid?.() ?? -1) ?? "YOURUSER";
  const mode = (socket.mode & 0o777).toString(8).padStart(4, "0");
  const refused = `cannot access ${path}: permission denied (group ${group}, mode ${mode}). Run as root`;
  // A daemon run by root without control_group or socket_group gives its sockets group root: joining it
  // would make the user root in all but name, so the way in is a group of the socket's own.
  if (socket.gid === 0) {
    return new DaemonUnreachable(
      `${refused}, or give the socket a group of its own: control_group (socket_group for the policy ` +
        `socket) = mailpolicyd in [daemon], restart mailpolicyd, then adduser ${user} mailpolicyd and ` +
        `log in again`,
    );
  }
  return new DaemonUnreachable(`${refused}, or join the group: adduser ${user} ${group}, then log in again`);
}

/**
 * A path that is no socket at all (the config file given as --socket) refuses the connect as a socket
 * nobody listens on does; "mailpolicyd is not running" would then send the postmaster after a daemon that
 * runs.
 */
function notASocket(path: string): DaemonUnreachable | undefined {
  let found;
  try {
    found = statSync(path);
  } catch {
    return undefined;
  }
  if (found.isSocket()) return undefined;
  const what = found.isDirectory() ? "a directory" : found.isFile() ? "a regular file" : "not a socket";
  return new DaemonUnreachable(
    `${path} is ${what}, not the daemon's socket: give its socket (or the config with --config)`,
  );
}

/** The first bytes of an answer, printable, for a message that says what answered instead. */
const answerStart = (text: string) => text.slice(0, 60).replace(/[^\x20-\x7e]/g, "?");

/** A policy socket's reply: the one-token form's, or the attribute form's (docs/protocol.md). */
const POLICY_REPLY = /^(?:yes|no|error(?: .*)?|action=.*)$/s;

function unreachable(
  path: string,
  error: NodeJS.ErrnoException & { rawPacket?: Uint8Array },
): DaemonUnreachable {
  // An answer that is not HTTP (node:http's parser error): most likely the policy socket, named for the
  // control socket; its reply to the request line would otherwise show as "Parse Error: Expected HTTP/".
  if (error.code?.startsWith("HPE_")) {
    const answer = error.rawPacket ? new TextDecoder().decode(error.rawPacket) : "";
    const policy = POLICY_REPLY.test(answer.trim())
      ? "; it is a policy socket's: give the control socket"
      : "";
    return new DaemonUnreachable(
      `the answer on ${path} is not mailpolicyd's (not HTTP${policy}): ${answerStart(answer)}`,
    );
  }
  switch (error.code) {
    case "ENOENT":
    case "ECONNREFUSED":
      return notASocket(path) ??
        new NothingListens(`mailpolicyd is not running (nothing listens on ${path})`);
    case "EACCES":
    case "EPERM":
      return permissionDenied(path);
    case "EINVAL":
      return pathTooLong(path) ??
        new DaemonUnreachable(`cannot reach mailpolicyd on ${path}: ${error.message}`);
    default:
      return new DaemonUnreachable(`cannot reach mailpolicyd on ${path}: ${error.message}`);
  }
}

// A Unix socket's address holds its path in 108 bytes, the last a NUL (sun_path, unix(7)); connect(2)
// refuses a longer one with EINVAL, which said only "connect EINVAL" and the path again.
const MAX_SOCKET_PATH_BYTES = 107;

/** Why `path` cannot be a Unix socket's: longer than its address holds; undefined when it is not. */
function pathTooLong(path: string): DaemonUnreachable | undefined {
  const bytes = new TextEncoder().encode(path).length;
  if (bytes <= MAX_SOCKET_PATH_BYTES) return undefined;
  return new DaemonUnreachable(
    `cannot reach mailpolicyd on ${path}: the path has ${bytes} bytes, and a Unix socket's may have at ` +
      `most ${MAX_SOCKET_PATH_BYTES}`,
  );
}

/**
 * The answer's JSON, of the shape `expected` checks when given; anything else means something other than
 * mailpolicyd answers on the socket (a web server, another daemon): a DaemonUnreachable, not a stack trace.
 */
/** An answer that is not mailpolicyd's, `what` saying why, with its first bytes. */
export const notOurs = (socketPath: string, what: string, body: string): DaemonUnreachable =>
  new DaemonUnreachable(`the answer on ${socketPath} is not mailpolicyd's (${what}): ${answerStart(body)}`);

function parseAnswer<T>(socketPath: string, body: string, expected?: (value: unknown) => boolean): T {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw notOurs(socketPath, "not JSON", body);
  }
  if (expected && !expected(value)) throw notOurs(socketPath, "not the JSON it sends", body);
  return value as T;
}

/** An answer whose connection closed before its end: how much came, and its first bytes. */
function cutShort(socketPath: string, response: http.IncomingMessage, body: string): DaemonUnreachable {
  const declared = response.headers["content-length"];
  const bytes = new TextEncoder().encode(body).length;
  const came = declared === undefined ? `${bytes} bytes` : `${bytes} of ${answerStart(declared)} bytes`;
  return new DaemonUnreachable(
    `the answer on ${socketPath} was cut short: the connection closed after ${came} of its body ` +
      `(status ${response.statusCode})${body ? `: ${answerStart(body)}` : ""}`,
  );
}

export interface ControlResponse {
  status: number;
  /** The answer's headers, names in lower case. */
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body's JSON; `expected`, when given, checks its shape before the caller relies on it. */
  json<T = unknown>(expected?: (value: unknown) => boolean): T;
}

export function controlRequest(
  socketPath: string,
  method: string,
  path: string,
  timeoutMs = DEFAULT_CLIENT_TIMEOUT_MS,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request({ socketPath, method, path, timeout: timeoutMs }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => body += chunk);
      // The connection closed before the answer's end (the daemon killed while it wrote, something else on
      // the socket): neither "end" nor the request's "error" comes, nothing was left to wait for, and the
      // command exited 0 without a word, a `reset` as if done.
      response.on("close", () => {
        if (!response.complete) reject(cutShort(socketPath, response, body));
      });
      response.on(
        "end",
        () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            json: <T>(expected?: (value: unknown) => boolean) => parseAnswer<T>(socketPath, body, expected),
          }),
      );
    });
    request.on("timeout", () => {
      request.destroy();
      reject(
        new DaemonUnreachable(
          `mailpolicyd did not answer on ${socketPath} within ${formatDuration(timeoutMs)}`,
        ),
      );
    });
    request.on("error", (error: NodeJS.ErrnoException) => reject(unreachable(socketPath, error)));
    request.end();
  });
}

/** Asks the policy socket exactly as Exim's ${readsocket} does: write, half-close, read to EOF. */
export async function policyRequest(
  socketPath: string,
  line: string,
  timeoutMs = DEFAULT_CLIENT_TIMEOUT_MS,
): Promise<string> {
  let reply: string;
  try {
    reply = await readsocketExchange(socketPath, line.endsWith("\n") ? line : `${line}\n`, { timeoutMs });
  } catch (error) {
    if (error instanceof ExchangeTimeout) throw new DaemonUnreachable(error.message);
    throw unreachable(socketPath, error as NodeJS.ErrnoException);
  }
  // Anything else (the control socket's HTTP 400, another program) printed as the reply, with exit 0, would
  // read as the daemon's answer.
  if (reply === "") throw new DaemonUnreachable(`no answer on ${socketPath}: the connection was closed`);
  if (!POLICY_REPLY.test(reply)) {
    const control = reply.startsWith("HTTP/") ? "; it is an HTTP answer: give the policy socket" : "";
    throw new DaemonUnreachable(
      `the answer on ${socketPath} is not mailpolicyd's (not a policy reply${control}): ${
        answerStart(reply)
      }`,
    );
  }
  return reply;
}
