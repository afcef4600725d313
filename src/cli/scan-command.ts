// `mailpolicyd scan FILE [--sender ADDR] [--rcpt ADDR]...`: one message through the content rules of the
// config, as the daemon's content concern would scan it, printed with the verdict, the score and every
// symbol. For a postmaster asking "why was this refused?" or trying a new [rule NAME] on saved mail.
import { open } from "node:fs/promises";
import { parseConfig } from "../config/load.ts";
import type { ConcernAnswer } from "../model/answer.ts";
import type { ContentPolicy } from "../model/content.ts";
import { scanMessage, type ScannedMessage } from "../content/scan.ts";
import { readToolConfig } from "./config-source.ts";

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

/** [content] of the config, or the schema's defaults (and no rules) when it has none. */
function contentSettings(options: ScanCommandOptions): ContentPolicy | string {
  const result = readToolConfig(options.config, options.configGiven);
  if (!result.ok) return result.errors.join("\n");
  if (result.config.content) return result.config.content;
  process.stderr.write(`mailpolicyd scan: ${result.config.file} has no [content] section: no rules apply\n`);
  const defaults = parseConfig("[content]\n", "(defaults)", process.cwd());
  return defaults.ok ? defaults.config.content! : defaults.errors.join("\n");
}

/**
 * The message's first `limit` bytes and its whole size; a larger one is read on to count its bytes but
 * not kept, so a huge file costs at most `limit` of memory (the daemon's listener bounds it likewise).
 */
async function readBounded(file: string, limit: number): Promise<{ bytes: Uint8Array; size: number }> {
  const kept = new Uint8Array(limit);
  let length = 0;
  let size = 0;
  const take = (chunk: Uint8Array) => {
    const room = Math.min(limit - length, chunk.length);
    kept.set(chunk.subarray(0, room), length);
    length += room;
    size += chunk.length;
  };
  if (file === "-") {
    for await (const chunk of process.stdin) take(chunk as Uint8Array);
  } else {
    const handle = await open(file, "r");
    try {
      const buffer = new Uint8Array(64 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        take(buffer.subarray(0, bytesRead));
      }
    } finally {
      await handle.close();
    }
  }
  return { bytes: kept.subarray(0, length), size };
}

export async function scanCommand(options: ScanCommandOptions): Promise<number> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  if (options.args.length !== 1) {
    process.stderr.write("mailpolicyd scan: give one FILE (or - for standard input)\n");
    return SCAN_EXIT.usage;
  }
  const policy = contentSettings(options);
  if (typeof policy === "string") {
    process.stderr.write(`${policy}\n`);
    return SCAN_EXIT.config;
  }
  let read;
  try {
    read = await readBounded(options.args[0], policy.maxScanSize);
  } catch (error) {
    process.stderr.write(`mailpolicyd scan: cannot read ${options.args[0]}: ${(error as Error).message}\n`);
    return SCAN_EXIT.noInput;
  }
  const request: ScannedMessage = {
    envelope: { sender: options.sender ?? "", recipients: options.recipients ?? [] },
    message: read.bytes,
    size: read.size,
    truncated: read.size > read.bytes.length,
  };
  const started = performance.now();
  const answer = await scanMessage(request, policy);
  write(formatScan(answer, read.size, performance.now() - started));
  const refused = answer.action === "defer" || answer.action === "reject";
  return refused ? SCAN_EXIT.refused : SCAN_EXIT.accepted;
}

/** The printed report: verdict, score, then one line per symbol. */
export function formatScan(answer: ConcernAnswer, size: number, ms: number): string {
  const symbols = answer.symbols ?? [];
  const width = Math.max(0, ...symbols.map((symbol) => symbol.name.length));
  const lines = [
    `verdict:  ${answer.action}${answer.message === undefined ? "" : ` "${answer.message}"`}`,
    `score:    ${answer.score ?? 0}`,
    `scanned:  ${size} bytes in ${ms.toFixed(1)} ms`,
    `symbols:  ${symbols.length === 0 ? "(none)" : ""}`,
    ...symbols.map((symbol) =>
      `  ${symbol.name.padEnd(width)}  ${String(symbol.score).padStart(6)}  ${symbol.description ?? ""}`
    ),
  ];
  return `${lines.map((line) => line.trimEnd()).join("\n")}\n`;
}
