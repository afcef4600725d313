// Run as another local user (runuser): connects to the milter's Unix socket at the last argument, sends
// the option negotiation Postfix opens with (version 6, every action, no step left out) and prints one JSON
// line: the milter's answer in hex, or the error of the connect (EACCES for a user the socket refuses).
import net from "node:net";
import { Buffer } from "node:buffer";

const OPTNEG = Buffer.from("0000000d4f00000006000001ff001fffff", "hex");

const path = process.argv.at(-1)!;
const socket = net.createConnection({ path });
const chunks: Buffer[] = [];
let reported = false;
const report = (line: object) => {
  if (reported) return;
  reported = true;
  console.log(JSON.stringify(line));
  socket.destroy();
};
socket.once("connect", () => socket.write(OPTNEG));
socket.on("data", (chunk: Buffer) => {
  chunks.push(chunk);
  const answer = Buffer.concat(chunks);
  // One frame: its 4-byte length, then that many bytes.
  if (answer.length >= 4 && answer.length >= 4 + answer.readUInt32BE(0)) {
    report({ answer: answer.toString("hex") });
  }
});
socket.once("error", (error: NodeJS.ErrnoException) => report({ error: error.code ?? error.message }));
socket.once("close", () => report({ closed: Buffer.concat(chunks).toString("hex") }));
