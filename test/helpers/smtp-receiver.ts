// A real SMTP server on loopback (the npm smtp-server package) that keeps what it receives.
import type { Socket } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  headers: Record<string, string>; // lower-cased names, unfolded, first occurrence
  body: string;
}

export interface SmtpReceiver {
  port: number;
  mails: ReceivedMail[];
  /** Mails answered with an error reply at the end of DATA (see ReceiverOptions.refuse). */
  refused: ReceivedMail[];
  /** Recipients refused at RCPT TO (see ReceiverOptions.refuseRecipient). */
  refusedRecipients: string[];
  /** Every AUTH the client sent (see ReceiverOptions.auth): whether over TLS, and whether it was taken. */
  logins: { method: string; username: string; secure: boolean; taken: boolean }[];
  /** How many sessions hung at MAIL FROM (see ReceiverOptions.hangAt). */
  hungAtMailFrom: number;
  /** With `hangAt = "MAIL FROM"`: drops the sessions hung there, as a relay restarted, and answers from then on. */
  recover(): void;
  close(): Promise<void>;
}

function splitMessage(raw: string): { headers: Record<string, string>; body: string } {
  const end = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, end).replace(/\r?\n[ \t]+/g, " ");
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    if (colon > 0 && !(name in headers)) headers[name] = line.slice(colon + 1).trim();
  }
  let body = raw.slice(end).replace(/^\r?\n\r?\n/, "");
  if (/quoted-printable/i.test(headers["content-transfer-encoding"] ?? "")) {
    const bytes = body.replace(/=\r?\n/g, "").replace(
      /=([0-9A-F]{2})/gi,
      (_, hex) => String.fromCharCode(parseInt(hex, 16)),
    );
    body = Buffer.from(bytes, "latin1").toString("utf8");
  }
  return { headers, body };
}

export interface ReceiverOptions {
  /** The SMTP reply code to refuse a mail with at the end of DATA (e.g. 554), or undefined to accept it. */
  refuse?: (mail: ReceivedMail) => number | undefined;
  /** ms to wait before answering the end of DATA (a relay that scans the message first). */
  answerAfterMs?: number;
  /**
   * True for a mail to take (it is kept in `mails`) and then drop the connection without answering the end
   * of DATA, as a relay that queued it and then crashed or was cut off from the client.
   */
  closeAfterData?: (mail: ReceivedMail) => boolean;
  /**
   * The SMTP reply code to refuse a recipient with at RCPT TO (e.g. 452: mailbox over quota for now), or
   * undefined to accept it. Each refusal is kept in SmtpReceiver.refusedRecipients.
   */
  refuseRecipient?: (address: string) => number | undefined;
  /**
   * "unavailable": STARTTLS is announced, but the command is answered "454 TLS currently unavailable", as
   * Exim does when it cannot read its certificate. "handshake fails": STARTTLS is answered 220, and the
   * client's TLS hello with a fatal handshake_failure alert, as from a relay that shares no protocol
   * version or cipher with the client. By default STARTTLS is not announced.
   */
  starttls?: "unavailable" | "handshake fails";
  /** Refuse MAIL FROM outside TLS with "530 5.7.0 Must issue a STARTTLS command first". */
  requireTls?: boolean;
  /**
   * SMTP AUTH (PLAIN and LOGIN) with these credentials, required: MAIL FROM without it is answered
   * "530 Error: authentication Required", a wrong login 535. AUTH is offered also in clear (whether the
   * client sends it there is what a test looks at).
   */
  auth?: { user: string; password: string };
  /** The SASL mechanisms offered with `auth`, in this order; PLAIN and LOGIN by default. */
  authMethods?: string[];
  /**
   * With `auth`: answer every login "421 4.3.2 Service shutting down…" instead of checking it, as a relay
   * going down does (RFC 5321's "closing transmission channel"). Each is kept in `logins`, not taken.
   */
  closingAtAuth?: boolean;
  /**
   * Never answer this command, as a relay whose authentication backend (AUTH; with `auth`) or sender check
   * (MAIL FROM) hangs. AUTH PLAIN then gets no reply at all, AUTH LOGIN none after the password its 334
   * asked for. The connection stays open until the client ends it; a hung login is kept in `logins`.
   */
  hangAt?: "AUTH" | "MAIL FROM";
  /** A real STARTTLS with this certificate and key (PEM); not with `starttls`. */
  tls?: { cert: Buffer; key: Buffer };
  /** The address to listen on; 127.0.0.1 by default. */
  host?: string;
}

export function startSmtpReceiver(port = 0, options: ReceiverOptions = {}): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  const refused: ReceivedMail[] = [];
  const refusedRecipients: string[] = [];
  const logins: SmtpReceiver["logins"] = [];
  const { auth } = options;
  const hung = new Set<string>(); // the sessions hanging at MAIL FROM, by id
  let recovered = false;
  const receiver: SmtpReceiver = {
    port,
    mails,
    refused,
    refusedRecipients,
    logins,
    hungAtMailFrom: 0,
    recover() {
      recovered = true;
      for (const connection of server.connections) {
        if (hung.has(connection.id)) (connection as unknown as { _socket: Socket })._socket.destroy();
      }
    },
    close: () => new Promise((done) => server.close(() => done())),
  };
  const server = new SMTPServer({
    authOptional: !auth,
    authMethods: options.authMethods ?? ["PLAIN", "LOGIN"],
    allowInsecureAuth: true,
    disabledCommands: [
      ...(options.starttls || options.tls ? [] : ["STARTTLS"]),
      ...(auth ? [] : ["AUTH"]),
    ],
    ...options.tls,
    logger: false,
    onAuth(login, session, callback) {
      // CRAM-MD5 sends no password, only a digest of the server's challenge made with it.
      const password = (candidate: string) =>
        login.method === "CRAM-MD5" ? login.validatePassword(candidate) : login.password === candidate;
      const taken = !options.closingAtAuth && options.hangAt !== "AUTH" && auth !== undefined &&
        login.username === auth.user && password(auth.password);
      logins.push({ method: login.method, username: login.username ?? "", secure: session.secure, taken });
      if (options.hangAt === "AUTH") return;
      if (options.closingAtAuth) {
        const reply = "4.3.2 Service shutting down, closing transmission channel";
        return callback(Object.assign(new Error(reply), { responseCode: 421 }));
      }
      if (taken) return callback(null, { user: login.username });
      callback(new Error("Invalid username or password"));
    },
    onMailFrom(_address, session, callback) {
      if (options.hangAt === "MAIL FROM" && !recovered) {
        hung.add(session.id);
        return void receiver.hungAtMailFrom++;
      }
      if (!options.requireTls || session.secure) return callback();
      callback(Object.assign(new Error("Must issue a STARTTLS command first"), { responseCode: 530 }));
    },
    onRcptTo(address, _session, callback) {
      const code = options.refuseRecipient?.(address.address);
      if (code === undefined) return callback();
      refusedRecipients.push(address.address);
      callback(Object.assign(new Error("recipient refused by the test receiver"), { responseCode: code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const mail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw,
          ...splitMessage(raw),
        };
        if (options.closeAfterData?.(mail)) {
          mails.push(mail);
          const connection = [...server.connections].find((each) => each.id === session.id);
          return void (connection as unknown as { _socket: Socket })._socket.destroy();
        }
        const code = options.refuse?.(mail);
        if (code === undefined) {
          mails.push(mail);
          if (options.answerAfterMs) return void setTimeout(callback, options.answerAfterMs);
          return callback();
        }
        refused.push(mail);
        callback(Object.assign(new Error("refused by the test receiver"), { responseCode: code }));
      });
    },
  });
  if (options.starttls) {
    // smtp-server always upgrades on STARTTLS: each connection's handler is replaced as it is made.
    const connect = server.connect.bind(server);
    server.connect = (socket, socketOptions) => {
      connect(socket, socketOptions);
      const connection = [...server.connections].at(-1)!;
      connection.handler_STARTTLS = (_command: Buffer, callback: () => void) => {
        if (options.starttls === "unavailable") {
          connection.send(454, "4.7.0 TLS currently unavailable");
          return callback();
        }
        connection.send(220, "2.0.0 Ready to start TLS");
        // The session's parser lets go of the socket; the client's hello gets a TLS alert record
        // (fatal, handshake_failure), and the connection ends.
        const raw = connection as unknown as {
          _socket: import("node:net").Socket;
          _parser: NodeJS.WritableStream;
        };
        raw._socket.unpipe(raw._parser);
        raw._socket.once(
          "data",
          () => raw._socket.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])),
        );
        raw._socket.resume(); // unpiped, it was left paused
        callback();
      };
    };
  }
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, options.host ?? "127.0.0.1", () => {
      const address = server.server.address();
      if (typeof address === "object" && address) receiver.port = address.port;
      resolve(receiver);
    });
  });
}

/** A free loopback TCP port (bound then released), for "SMTP server down" tests. */
export async function freePort(): Promise<number> {
  const net = await import("node:net");
  return await new Promise((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}
