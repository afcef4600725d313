// A second milter for the real-Postfix tests, as a site has one (a virus scanner, a DKIM signer) beside
// mailpolicyd's in non_smtpd_milters: it asks for the whole message and answers continue to everything,
// but holds its end-of-message answer for `endOfMessageMs`, as a scanner working on a large attachment
// does. Postfix asks each milter about the message in turn, so a milter listed after this one hears nothing
// from Postfix meanwhile.
import { Buffer } from "node:buffer";
import net from "node:net";

export interface SlowMilter {
  port: number;
  /** End-of-message frames it has answered. */
  answered: number;
  stop(): void;
}

const frame = (command: string, data: Uint8Array = new Uint8Array(0)) => {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + data.length);
  head[4] = command.charCodeAt(0);
  return Buffer.concat([head, data]);
};

export function startSlowMilter(endOfMessageMs: number): Promise<SlowMilter> {
  const sockets = new Set<net.Socket>();
  const milter: SlowMilter = { port: 0, answered: 0, stop: () => {} };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 4 && buffer.length >= 4 + buffer.readUInt32BE(0)) {
        const length = buffer.readUInt32BE(0);
        const command = String.fromCharCode(buffer[4]);
        buffer = buffer.subarray(4 + length);
        if (command === "O") {
          // Version 6, no modifications, every event (Postfix then sends the headers and the body too).
          const reply = Buffer.alloc(12);
          reply.writeUInt32BE(6, 0);
          reply.writeUInt32BE(0, 4);
          reply.writeUInt32BE(0, 8);
          socket.write(frame("O", reply));
        } else if (command === "E") {
          setTimeout(() => {
            milter.answered++;
            socket.write(frame("c"));
          }, endOfMessageMs);
        } else if (command === "Q") socket.end();
        else if (!"DAK".includes(command)) socket.write(frame("c"));
      }
    });
  });
  return new Promise((resolve) =>
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      milter.port = (server.address() as net.AddressInfo).port;
      milter.stop = () => {
        server.close();
        for (const socket of sockets) socket.destroy();
      };
      resolve(milter);
    })
  );
}
