// The daemon's log lines to stderr, with a bound on what waits for its reader. Bun's process.stderr keeps
// in the process whatever the pipe does not take, without end: with the reader stalled (journald hung, a
// `| less` not read), 120 000 debug lines of ~600 bytes took 87 MB more than with the reader reading. Here,
// once a write is held back (write() returns false), the lines that follow wait in one buffer of at most
// WAITING_MAX_BYTES until the stream drains, and those past it are dropped, counted, and said in a line when
// it drains. (Deno's write blocks until the reader reads: nothing is held back, nothing changes.)

/**
 * Bytes of log lines kept while stderr's reader is behind (counted as characters: a line is mostly ASCII):
 * some thousands of lines, enough for an incident's story, and no more than a connection's buffer or two.
 */
export const WAITING_MAX_BYTES = 1024 * 1024;

/** What the sink needs of process.stderr. */
export interface LineStream {
  write(text: string): boolean;
  once(event: "drain", listener: () => void): unknown;
}

export interface StderrLinesOptions {
  stream?: LineStream;
  maxWaitingBytes?: number;
  /** The line that says how many lines were dropped (log.ts formats it, as every other line). */
  droppedLine(count: number): string;
  /** At the process's exit, what still waits is handed to the stream: the stop's last lines. */
  flushAtExit?: boolean;
}

/** A `write` for createLogger: each line to stderr, at most maxWaitingBytes of them waiting for its reader. */
export function stderrLines(options: StderrLinesOptions): (line: string) => void {
  const stream = options.stream ?? process.stderr;
  const maxWaitingBytes = options.maxWaitingBytes ?? WAITING_MAX_BYTES;
  let behind = false;
  let waiting: string[] = [];
  let waitingBytes = 0;
  let dropped = 0;

  const waitingText = (): string => {
    let text = waiting.join("");
    if (dropped > 0) text += options.droppedLine(dropped) + "\n";
    waiting = [];
    waitingBytes = 0;
    dropped = 0;
    return text;
  };
  const send = (text: string) => {
    if (stream.write(text)) return;
    behind = true;
    stream.once("drain", drained);
  };
  const drained = () => {
    behind = false;
    const text = waitingText();
    if (text !== "") send(text);
  };
  // At exit, what waits is handed to the stream behind the write it holds, so that the lines stay in order
  // (a writeSync on fd 2 cut into the middle of that write). Whether the runtime gets it out before the
  // process ends depends on the reader, as it did before.
  if (options.flushAtExit) {
    process.on("exit", () => {
      if (!behind) return;
      const text = waitingText();
      if (text !== "") stream.write(text);
    });
  }

  return (line) => {
    const text = line + "\n";
    if (!behind) return send(text);
    if (waitingBytes + text.length > maxWaitingBytes) {
      dropped++;
      return;
    }
    waiting.push(text);
    waitingBytes += text.length;
  };
}
