// `mailpolicyd scan FILE [--sender ADDR] [--rcpt ADDR]...`: one message as the spamd front would judge it:
// through the content rules of the config and, with [spamassassin], by the configured spamd; the scores
// summed and held against [spamd]'s thresholds; printed with the verdict, the score and every symbol. For a
// postmaster asking "why was this refused?" or trying a new [rule NAME] on saved mail. The daemon need not run.
import { closeSync, fstatSync, readSync } from "node:fs";
import { isatty } from "node:tty";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import type { ConcernAnswer, Decision } from "../model/answer.ts";
import type { ContentPolicy } from "../model/content.ts";
import { scanMessage, type ScannedMessage } from "../content/scan.ts";
import { mergeAnswers } from "../engine/answer.ts";
import { type SpamThresholds, spamVerdict } from "../engine/spam-thresholds.ts";
import { scanMessage as askSpamd } from "../actors/spamd-scan.ts";
import { notScannedReason, spamdAnswer } from "../spamd/answer.ts";
import type { SpamdVerdict } from "../protocols/spamd-front.ts";
import { readToolConfig } from "./config-source.ts";
import { fileKind, NotRegularFileError, openRegularFile } from "../store/regular-file.ts";

/** Exit statuses: docs/content.md, "mailpolicyd scan". */
export const SCAN_EXIT = { accepted: 0, refused: 1, usage: 64, noInput: 66, config: 78 } as const;

export interface ScanCommandOptions {
  config: string;
  /** The config file was named with --config: a missing one is an error, not the defaults. */
  configGiven: boolean;
  args: string[];
  sender?: string;
  recipients?: string[];
  write?: (text: string) => void;
}

/** The config's [content] (or the schema's defaults, no rules) and [spamd] (or the schema's thresholds). */
function settings(
  options: ScanCommandOptions,
): { config: Config; content: ContentPolicy; spamd: Config["spamd"] } | string {
  const result = readToolConfig(options.config, options.configGiven);
  if (!result.ok) return result.errors.join("\n");
  const { config } = result;
  if (!config.content) {
    process.stderr.write(`mailpolicyd scan: ${config.file} has no [content] section: no rules apply\n`);
  }
  const defaults = parseConfig("[content]\n[spamd]\n", "(defaults)", process.cwd());
  if (!defaults.ok) return defaults.errors.join("\n");
  return {
    config,
    content: config.content ?? defaults.config.content!,
    spamd: config.spamd ?? defaults.config.spamd,
  };
}

/** spamd's answer for the message, as the SpamAssassin concern gets it; or why there is none. */
function spamdOpinion(config: Config, request: ScannedMessage): Promise<ConcernAnswer | string> {
  const spam = config.spamassassin!;
  const reason = notScannedReason(request, spam.maxSize);
  if (reason !== undefined) return Promise.resolve(`not asked: ${reason}`);
  return new Promise((resolve) =>
    askSpamd({
      address: spam.address,
      command: spam.command,
      user: spam.user || undefined,
      message: request.message,
      timeoutMs: config.concerns.spamassassin.timeoutMs,
    }, (result) =>
      resolve(
        result.outcome === "ok"
          ? spamdAnswer(result.reply)
          : `${result.outcome}: ${result.error} (the daemon answers [spamassassin] fail_mode)`,
      ))
  );
}

/**
 * The message's first `limit` bytes and its whole size. A FILE must be a regular file: its size is its
 * length, and what is past `limit` is not read. A character device (/dev/zero) never ends and a FIFO
 * without a writer never starts; a pipe goes to standard input. `-` reads standard input (a pipe, a file
 * or a terminal; not a device) to its end, keeping `limit` bytes and counting the rest, so a huge message
 * costs at most `limit` of memory.
 */
async function readBounded(file: string, limit: number): Promise<{ bytes: Uint8Array; size: number }> {
  if (file !== "-") return readFileStart(file, limit);
  const device = standardInputDevice();
  if (device !== undefined) {
    throw new Error(`standard input is ${device}, not a pipe, a file or a terminal: pipe the message to it`);
  }
  const kept = new Uint8Array(limit);
  let length = 0;
  let size = 0;
  for await (const chunk of process.stdin) {
    const bytes = chunk as Uint8Array;
    const room = Math.min(limit - length, bytes.length);
    kept.set(bytes.subarray(0, room), length);
    length += room;
    size += bytes.length;
  }
  return { bytes: kept.subarray(0, length), size };
}

/**
 * What standard input is when it is neither a pipe, a file nor a terminal (typed, ended with Ctrl-D): a
 * device such as /dev/zero, which never ends (`scan - < /dev/zero` read on forever to count its size), or
 * /dev/null, which holds no message. Undefined when it can be read.
 */
function standardInputDevice(): string | undefined {
  const stats = fstatSync(0);
  if (stats.isFile() || stats.isFIFO() || stats.isSocket() || isatty(0)) return undefined;
  return fileKind(stats);
}

/** A regular file's first `limit` bytes and its size (throws NotRegularFileError for any other file). */
function readFileStart(file: string, limit: number): { bytes: Uint8Array; size: number } {
  const { fd, size } = openRegularFile(file);
  try {
    const kept = new Uint8Array(Math.min(limit, size));
    let length = 0;
    while (length < kept.length) {
      const bytesRead = readSync(fd, kept, length, kept.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { bytes: kept.subarray(0, length), size: Math.max(size, length) };
  } finally {
    closeSync(fd);
  }
}

export async function scanCommand(options: ScanCommandOptions): Promise<number> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  if (options.args.length !== 1) {
    process.stderr.write("mailpolicyd scan: give one FILE (or - for standard input)\n");
    return SCAN_EXIT.usage;
  }
  const loaded = settings(options);
  if (typeof loaded === "string") {
    process.stderr.write(`${loaded}\n`);
    return SCAN_EXIT.config;
  }
  const policy = loaded.content;
  let read;
  try {
    // What the front keeps of a message ([spamd] max_message_size): each concern then applies its own
    // bound (max_scan_size, [spamassassin] max_size) to those bytes, as in the daemon.
    read = await readBounded(options.args[0], loaded.spamd!.maxMessageSize);
  } catch (error) {
    // A FIFO or a device: the way that works is standard input (`zcat m.gz | mailpolicyd scan -`).
    const hint = error instanceof NotRegularFileError ? "; give a message file, or - for standard input" : "";
    process.stderr.write(
      `mailpolicyd scan: cannot read ${options.args[0]}: ${(error as Error).message}${hint}\n`,
    );
    return SCAN_EXIT.noInput;
  }
  const request: ScannedMessage = {
    envelope: { sender: options.sender ?? "", recipients: options.recipients ?? [] },
    message: read.bytes,
    size: read.size,
    truncated: read.size > read.bytes.length,
  };
  const started = performance.now();
  const answers = [{ concern: "content", answer: scanMessage(request, policy) }];
  const spamd = loaded.config.spamassassin ? await spamdOpinion(loaded.config, request) : undefined;
  if (typeof spamd === "object") answers.push({ concern: "spamassassin", answer: spamd });
  const decision = mergeAnswers(answers);
  const { markThreshold: mark, rejectThreshold: reject } = loaded.spamd!;
  const spam = spamVerdict(decision, { mark, reject });
  const ms = performance.now() - started;
  write(formatScan(decision, read.size, ms, { spam, thresholds: { mark, reject }, spamd }));
  const refused = spam.action === "reject" || spam.action === "soft reject";
  return refused ? SCAN_EXIT.refused : SCAN_EXIT.accepted;
}

/** What the front would make of it: its verdict, and spamd's part (undefined: no [spamassassin]). */
export interface FrontView {
  spam: SpamdVerdict;
  thresholds: SpamThresholds;
  spamd: ConcernAnswer | string | undefined;
}

/** The printed report: verdict, score, then one line per symbol. */
export function formatScan(answer: Decision, size: number, ms: number, front?: FrontView): string {
  const symbols = answer.symbols ?? [];
  const width = Math.max(0, ...symbols.map((symbol) => symbol.name.length));
  const spamd = front?.spamd;
  const lines = [
    `verdict:  ${answer.action}${answer.message === undefined ? "" : ` "${answer.message}"`}`,
    // The front's score (rounded as it reports it), not the sum's floating-point noise (0.1 + 0.2).
    `score:    ${front?.spam.score ?? answer.score ?? 0}`,
    ...(front
      ? [
        `spam:     ${front.spam.action} (the spamd front's answer; [spamd] mark_threshold ` +
        `${front.thresholds.mark}, reject_threshold ${front.thresholds.reject})`,
      ]
      : []),
    ...(spamd === undefined ? [] : [
      `spamd:    ${typeof spamd === "string" ? spamd : `score ${spamd.score ?? 0}`}`,
    ]),
    `scanned:  ${size} bytes in ${ms.toFixed(1)} ms`,
    `symbols:  ${symbols.length === 0 ? "(none)" : ""}`,
    ...symbols.map((symbol) =>
      `  ${symbol.name.padEnd(width)}  ${String(symbol.score).padStart(6)}  ${symbol.description ?? ""}`
    ),
  ];
  return `${lines.map((line) => line.trimEnd()).join("\n")}\n`;
}
