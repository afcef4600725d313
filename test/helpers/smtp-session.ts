// An SMTP client session held open, one command at a time, for tests that interleave several sessions
// (swaks runs one whole session per call). Replies are read whole: the last line of a reply is "NNN text".
import { connect } from "node:net";

export interface SmtpSession {
  /** The greeting. */
  readonly greeting: string;
  /** Sends one line (CRLF added) and resolves with the whole reply. */
  send(line: string): Promise<string>;
  /** Sends a message's text after DATA's 354, dot-stuffed, and resolves with the reply to its end. */
  sendData(text: string): Promise<string>;
  close(): void;
}

const COMPLETE_REPLY = /(^|\r\n)\d{3} [^\r\n]*\r\n$/;

export function openSmtpSession(port: number, host = "127.0.0.1", timeoutMs = 15_000): Promise<SmtpSession> {
  const socket = connect({ port, host });
  let buffer = "";
  let waiting: { resolve: (reply: string) => void; reject: (error: Error) => void } | undefined;
  const settle = () => {
    if (waiting === undefined || !COMPLETE_REPLY.test(buffer)) return;
    const reply = buffer;
    buffer = "";
    const { resolve } = waiting;
    waiting = undefined;
    resolve(reply.trimEnd());
  };
  const fail = (error: Error) => {
    const pending = waiting;
    waiting = undefined;
    pending?.reject(error);
  };
  socket.setEncoding("utf8");
  socket.setTimeout(timeoutMs, () => {
    fail(new Error(`no SMTP reply within ${timeoutMs} ms; read so far: ${JSON.stringify(buffer)}`));
    socket.destroy();
  });
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    settle();
  });
  socket.on("error", fail);
  socket.on("close", () => fail(new Error(`connection closed; read: ${JSON.stringify(buffer)}`)));
  const reply = () => new Promise<string>((resolve, reject) => (waiting = { resolve, reject }, settle()));
  const send = (line: string) => {
    const answer = reply();
    socket.write(`${line}\r\n`);
    return answer;
  };
  return reply().then((greeting) => ({
    greeting,
    send,
    sendData: (text: string) => send(`${text.replace(/^\./gm, "..").replace(/\r?\n/g, "\r\n")}\r\n.`),
    close: () => socket.destroy(),
  }));
}
