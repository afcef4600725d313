// A TCP proxy between a client and a real redis-server that loses the answers to chosen commands once:
// Redis runs them, the client does not see their answers. `cut` closes both connections as soon as Redis
// has answered every chosen command forwarded (the connection broke on the answers' way back), and refuses
// new connections until release() (Redis stays away for as long as a test needs: no retry settles the
// calls meanwhile); `hold` keeps the answers from the first chosen command on until release() (they come
// after the client's timeout, as when its event loop stalled). After that one time it only forwards. It counts the commands
// and the answers by reading RESP (RESP2: what ioredis speaks), so no timing decides what is lost.
import { Buffer } from "node:buffer";
import net from "node:net";

export interface ReplyProxy {
  /** redis://127.0.0.1:PORT */
  url: string;
  /** The answers lost or held (their RESP text), to show that Redis did run the commands. */
  readonly lost: string[];
  /** Whether the chosen commands' answers have been lost (cut) or are held (hold). */
  readonly struck: boolean;
  /** hold: the answers held go to the client now, and everything after them; cut: connections again. */
  release(): void;
  close(): Promise<void>;
}

/** Where the RESP value starting at `at` ends, or -1 when `data` does not hold all of it yet. */
export function respEnd(data: Buffer, at: number): number {
  const eol = data.indexOf("\r\n", at);
  if (at >= data.length || eol < 0) return -1;
  const size = Number(data.toString("latin1", at + 1, eol));
  let next = eol + 2;
  switch (String.fromCharCode(data[at])) {
    case "$":
      if (size < 0) return next;
      return next + size + 2 <= data.length ? next + size + 2 : -1;
    case "*":
      for (let i = 0; i < size; i++) {
        next = respEnd(data, next);
        if (next < 0) return -1;
      }
      return next;
    default: // + - : a line
      return next;
  }
}

/** Complete RESP values at the head of `data`: them, and what is left. */
function takeValues(data: Buffer): [Buffer[], Buffer] {
  const values: Buffer[] = [];
  let at = 0;
  for (let end = respEnd(data, at); end >= 0; end = respEnd(data, at)) {
    values.push(data.subarray(at, end));
    at = end;
  }
  return [values, data.subarray(at)];
}

export async function startReplyProxy(
  target: { host: string; port: number },
  mode: "cut" | "hold",
  chosen: (command: Buffer) => boolean,
): Promise<ReplyProxy> {
  const lost: string[] = [];
  let struck = false; // the one time has come
  let spent = false; // and gone: only forwarding from now on
  let away = false; // cut: new connections are refused until release()
  const releases: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (away) return void client.destroy();
    const upstream = net.connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    let asked: Buffer = Buffer.alloc(0);
    let answered: Buffer = Buffer.alloc(0);
    let commands = 0;
    let replies = 0;
    let first = -1; // the first chosen command's number on this connection
    let last = -1;
    const held: Buffer[] = [];
    client.on("data", (chunk: Buffer) => {
      upstream.write(chunk);
      if (spent) return;
      const [values, rest] = takeValues(Buffer.concat([asked, chunk]));
      asked = rest;
      for (const command of values) {
        if (chosen(command)) {
          if (first < 0) first = commands;
          last = commands;
        }
        commands++;
      }
    });
    upstream.on("data", (chunk: Buffer) => {
      if (spent && held.length === 0 && answered.length === 0) return void client.write(chunk);
      const [values, rest] = takeValues(Buffer.concat([answered, chunk]));
      answered = rest;
      for (const value of values) {
        const number = replies++;
        if (first < 0 || number < first || spent) {
          if (held.length === 0) client.write(value);
          else held.push(value);
          continue;
        }
        struck = true;
        lost.push(value.toString("latin1"));
        if (mode === "hold") {
          held.push(value);
          continue;
        }
        if (number >= last) { // Redis answered every chosen command forwarded: the connection breaks
          spent = true;
          away = true;
          client.destroy();
          upstream.destroy();
          return;
        }
      }
    });
    releases.push(() => {
      spent = true;
      client.write(Buffer.concat([...held, answered]));
      held.length = 0;
      answered = Buffer.alloc(0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    lost,
    get struck() {
      return struck;
    },
    release() {
      away = false;
      for (const release of releases) release();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
