// `mailpolicyd postfix-snippet`: prints the main.cf lines that make Postfix ask the [postfix] listener,
// at its address from --listen or from the config's [postfix] section (listen, else socket), with max_idle
// from its idle_timeout (also under --listen), and a timeout above the [limits] and [spf] timeouts. Only
// those keys are read, and a concern's timeout that does not parse is left out, so a typo elsewhere in the
// file does not stop it. With milter_socket or milter_listen, also the non_smtpd_milters line for mail handed
// to sendmail (the socket's when both are set).
import { readConfigText } from "../config/config-file.ts";
import { dirname, resolve } from "node:path";
import * as v from "valibot";
import { concernTimeouts } from "../config/concern-timeouts.ts";
import { type IniDocument, type IniSection, parseIni, sectionProblems } from "../config/ini.ts";
import { LIMITS_SECTION, POSTFIX_SECTION, SPF_SECTION } from "../config/schema.ts";
import { loopbackAddress } from "../config/values.ts";
import {
  DEFAULT_POSTFIX_ENDPOINT,
  inQueueDirectory,
  milterLines,
  policyTimeoutSeconds,
  POSTFIX_QUEUE_DIRECTORY,
  postfixEndpoint,
  postfixSnippet,
} from "../postfix/snippet.ts";

export interface PostfixSnippetOptions {
  listen?: string;
  config: string;
  failClosed: boolean;
}

/**
 * The config's [postfix] section, or why there is none (the snippet then uses the defaults), or the problem
 * that makes it no answer: a key or the section repeated, which the daemon refuses, so the first value
 * printed here would not be the daemon's.
 */
function postfixSection(
  file: string,
): ({ section: IniSection } | { note: string }) & { document?: IniDocument } | { problem: string } {
  let text: string;
  try {
    text = readConfigText(file); // a FIFO would block, 3 GB be read: config-file.ts
  } catch {
    return { note: `cannot read ${file}: using the default address` };
  }
  const document = parseIni(text);
  const [repeated] = sectionProblems(document, "postfix");
  if (repeated) return { problem: `${file}:${repeated.line}: ${repeated.key}: ${repeated.problem}` };
  const section = document.sections.find((found) => found.name === "postfix");
  return section ? { section, document } : {
    note: `${file} has no [postfix] section: add one, or the daemon does not listen for Postfix`,
    document,
  };
}

/** The concerns a Postfix request asks: the limits always, SPF when the file has [spf]. */
const POSTFIX_CONCERNS = [
  { name: "limits", spec: LIMITS_SECTION, always: true },
  { name: "spf", spec: SPF_SECTION },
];

const rawValue = (section: IniSection, key: string) =>
  section.entries.find((entry) => entry.key === key)?.value;

/**
 * Postfix's max_idle for [postfix] idle_timeout, in whole seconds (Postfix's unit), rounded down so that
 * an smtpd waiting for a client lets an idle connection go no later than the daemon does (within an SMTP
 * session smtpd does not apply max_idle: docs/postfix.md, "Idle connections").
 */
function idleSecondsOf(section: IniSection, file: string): { idleSeconds: number } | { problem: string } {
  const idle = v.safeParse(
    POSTFIX_SECTION.idle_timeout.schema,
    rawValue(section, "idle_timeout") ?? POSTFIX_SECTION.idle_timeout.default,
  );
  if (!idle.success) return { problem: `${file}: [postfix] idle_timeout: ${idle.issues[0].message}` };
  return { idleSeconds: Math.max(1, Math.floor(idle.output / 1000)) };
}

/**
 * Postfix's `unix:` endpoint for a socket path of the config, and a note when the path is outside the queue
 * directory: `daemon` (smtpd, cleanup) runs chrooted there in Debian's master.cf and looks an absolute path
 * up inside the chroot (MILTER_README, SMTPD_POLICY_README), so it cannot reach it.
 */
function socketEndpoint(value: string, file: string, daemon: string, folder: string) {
  const path = resolve(dirname(resolve(file)), value);
  const note = inQueueDirectory(path) ? undefined : `${path} is outside ${POSTFIX_QUEUE_DIRECTORY}: ` +
    `a chrooted ${daemon} (Debian's master.cf) cannot reach it; put the socket under ` +
    `${POSTFIX_QUEUE_DIRECTORY}/${folder}, or run ${daemon} with chroot n`;
  return { endpoint: postfixEndpoint({ path }), note };
}

/** Postfix's endpoint for the config's [postfix] section (listen, else socket), or why there is none. */
function sectionEndpoint(section: IniSection, file: string): { endpoint: string; note?: string } | {
  problem: string;
} {
  const listen = v.safeParse(
    POSTFIX_SECTION.listen.schema,
    rawValue(section, "listen") ?? POSTFIX_SECTION.listen.default,
  );
  if (!listen.success) return { problem: `${file}: [postfix] listen: ${listen.issues[0].message}` };
  if (listen.output && listen.output.port !== 0) return { endpoint: postfixEndpoint(listen.output) };
  const socket = rawValue(section, "socket");
  if (socket) return socketEndpoint(socket, file, "smtpd", "private/");
  return { problem: `${file}: [postfix] has no fixed listen address nor a socket; set one or give --listen` };
}

/**
 * Postfix's milter endpoint for the section's milter_socket (the one only Postfix's group reaches), else its
 * milter_listen; none when both are off, or why milter_listen is wrong.
 */
function milterEndpoint(
  section: IniSection,
  file: string,
): { endpoint?: string; note?: string } | { problem: string } {
  const socket = rawValue(section, "milter_socket");
  if (socket) return socketEndpoint(socket, file, "cleanup", "mailpolicyd/");
  const milter = v.safeParse(
    POSTFIX_SECTION.milter_listen.schema,
    rawValue(section, "milter_listen") ?? POSTFIX_SECTION.milter_listen.default,
  );
  if (!milter.success) return { problem: `${file}: [postfix] milter_listen: ${milter.issues[0].message}` };
  if (milter.output === undefined) return {};
  if (milter.output.port === 0) {
    return { problem: `${file}: [postfix] milter_listen: port 0 is no fixed port` };
  }
  // Said, not refused: a host without untrusted local users may keep the port (docs/postfix.md).
  const note = "milter_listen is loopback TCP, which any local user can connect to and have made-up " +
    "messages counted (another login's mail held, alerts sent); milter_socket lets only Postfix in";
  return { endpoint: postfixEndpoint(milter.output), note };
}

/** Exit code, or a usage problem for the caller to print with the command's help. */
export function postfixSnippetCommand(options: PostfixSnippetOptions): number | { usage: string } {
  const problem = (text: string) => {
    process.stderr.write(`mailpolicyd: ${text}\n`);
    return 1;
  };
  let listen: string | undefined;
  if (options.listen !== undefined) {
    const parsed = v.safeParse(loopbackAddress, options.listen);
    if (!parsed.success) return { usage: `--listen: ${parsed.issues[0].message}` };
    listen = postfixEndpoint(parsed.output);
  }
  // --listen replaces the address only: idle_timeout still comes from the config when it has [postfix].
  const found = postfixSection(options.config);
  if ("problem" in found) return problem(found.problem);
  let endpoint = listen ?? DEFAULT_POSTFIX_ENDPOINT;
  let idleSeconds: number | undefined;
  let milter: string | undefined;
  if ("section" in found) {
    const milterPlace = milterEndpoint(found.section, options.config);
    if ("problem" in milterPlace) return problem(milterPlace.problem);
    if (milterPlace.note) process.stderr.write(`mailpolicyd: ${milterPlace.note}\n`);
    milter = milterPlace.endpoint;
    const idle = idleSecondsOf(found.section, options.config);
    if ("problem" in idle) return problem(idle.problem);
    idleSeconds = idle.idleSeconds;
    if (listen === undefined) {
      const place = sectionEndpoint(found.section, options.config);
      // listen = none and no socket: no policy lines to print, only the milter's.
      if (
        milter !== undefined && rawValue(found.section, "listen") === "none" &&
        !rawValue(found.section, "socket")
      ) {
        process.stdout.write(milterLines(milter, options.failClosed));
        return 0;
      }
      if ("problem" in place) return problem(place.problem);
      if (place.note) process.stderr.write(`mailpolicyd: ${place.note}\n`);
      endpoint = place.endpoint;
    }
  } else if (listen === undefined) {
    process.stderr.write(`mailpolicyd: ${found.note}\n`);
  }
  const document = "document" in found ? found.document : undefined;
  const timeoutSeconds = policyTimeoutSeconds(concernTimeouts(document, POSTFIX_CONCERNS));
  process.stdout.write(postfixSnippet(endpoint, options.failClosed, { idleSeconds, timeoutSeconds }, milter));
  return 0;
}
