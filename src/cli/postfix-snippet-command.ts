// `mailpolicyd postfix-snippet`: prints the main.cf lines that make Postfix ask the [postfix] listener,
// at its address from --listen or from the config's [postfix] section (listen, else socket). Only that
// section is read, so a typo elsewhere in the file does not stop it.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import * as v from "valibot";
import { parseIni } from "../config/ini.ts";
import { POSTFIX_SECTION } from "../config/schema.ts";
import { loopbackAddress } from "../config/values.ts";
import {
  DEFAULT_POSTFIX_ENDPOINT,
  inQueueDirectory,
  POSTFIX_QUEUE_DIRECTORY,
  postfixEndpoint,
  postfixSnippet,
} from "../postfix/snippet.ts";

export interface PostfixSnippetOptions {
  listen?: string;
  config: string;
  failClosed: boolean;
}

type Found = { endpoint: string; idleSeconds?: number; note?: string } | { problem: string };

/** Postfix's endpoint and max_idle for the config's [postfix] section, or why there is none. */
function configEndpoint(file: string): Found {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { endpoint: DEFAULT_POSTFIX_ENDPOINT, note: `cannot read ${file}: using the default address` };
  }
  const section = parseIni(text).sections.find((found) => found.name === "postfix");
  if (!section) {
    return {
      endpoint: DEFAULT_POSTFIX_ENDPOINT,
      note: `${file} has no [postfix] section: add one, or the daemon does not listen for Postfix`,
    };
  }
  const raw = (key: string) => section.entries.find((entry) => entry.key === key)?.value;
  const idle = v.safeParse(
    POSTFIX_SECTION.idle_timeout.schema,
    raw("idle_timeout") ?? POSTFIX_SECTION.idle_timeout.default,
  );
  if (!idle.success) return { problem: `${file}: [postfix] idle_timeout: ${idle.issues[0].message}` };
  const idleSeconds = Math.max(1, Math.floor(idle.output / 1000));
  const listen = v.safeParse(POSTFIX_SECTION.listen.schema, raw("listen") ?? POSTFIX_SECTION.listen.default);
  if (!listen.success) return { problem: `${file}: [postfix] listen: ${listen.issues[0].message}` };
  if (listen.output && listen.output.port !== 0) {
    return { endpoint: postfixEndpoint(listen.output), idleSeconds };
  }
  const socket = raw("socket");
  if (socket) {
    const path = resolve(dirname(resolve(file)), socket);
    const note = inQueueDirectory(path) ? undefined : `${path} is outside ${POSTFIX_QUEUE_DIRECTORY}: ` +
      `a chrooted smtpd (Debian's master.cf) cannot reach it; put the socket under ` +
      `${POSTFIX_QUEUE_DIRECTORY}/private/, or run smtpd with chroot n`;
    return { endpoint: postfixEndpoint({ path }), idleSeconds, note };
  }
  return { problem: `${file}: [postfix] has no fixed listen address nor a socket; set one or give --listen` };
}

/** Exit code, or a usage problem for the caller to print with the command's help. */
export function postfixSnippetCommand(options: PostfixSnippetOptions): number | { usage: string } {
  let endpoint: string;
  let idleSeconds: number | undefined;
  if (options.listen !== undefined) {
    const parsed = v.safeParse(loopbackAddress, options.listen);
    if (!parsed.success) return { usage: `--listen: ${parsed.issues[0].message}` };
    endpoint = postfixEndpoint(parsed.output);
  } else {
    const found = configEndpoint(options.config);
    if ("problem" in found) {
      process.stderr.write(`mailpolicyd: ${found.problem}\n`);
      return 1;
    }
    if (found.note) process.stderr.write(`mailpolicyd: ${found.note}\n`);
    endpoint = found.endpoint;
    idleSeconds = found.idleSeconds;
  }
  process.stdout.write(postfixSnippet(endpoint, options.failClosed, idleSeconds));
  return 0;
}
