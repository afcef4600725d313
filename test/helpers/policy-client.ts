// Talks to the policy socket the way Exim's ${readsocket} does: connect, write, shutdown(SHUT_WR), read
// to EOF. Options cover the misbehaving clients the daemon must survive.
import net from "node:net";

export interface AskOptions {
  halfClose?: boolean; // default true, as Exim
  timeoutMs?: number;
}

export function askPolicy(
  path: string | { host: string; port: number },
  request: string | Uint8Array,
  options: AskOptions = {},
): Promise<string> {
  const { halfClose = true, timeoutMs = 10_000 } = options;
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({
      ...(typeof path === "string" ? { path } : path),
      allowHalfOpen: true,
    });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => {
      socket.write(request);
      if (halfClose) socket.end();
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Sends n requests for one key, one connection each, and returns the replies in order. */
export async function askMany(path: string, request: string, n: number): Promise<string[]> {
  const replies: string[] = [];
  for (let i = 0; i < n; i++) replies.push(await askPolicy(path, request));
  return replies;
}
