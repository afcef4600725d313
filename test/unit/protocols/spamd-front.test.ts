// The spamd front's codec: what Exim 4.96 (spam.c) and spamc send, and the reply shapes they parse.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { deflateSync } from "node:zlib";
import {
  EXIM_REPLY_BYTES,
  formatReport,
  formatSpamdError,
  formatSpamdReply,
  parseSpamdRequest,
  spamdHeadEnd,
  type SpamdRequest,
  type SpamdVerdict,
  spamHeaderLines,
  spamHeaders,
  symbolsList,
} from "../../../src/protocols/spamd-front.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (reply: string | Uint8Array) =>
  typeof reply === "string" ? reply : new TextDecoder().decode(reply);

function parse(input: string, max = 1 << 20): SpamdRequest {
  const parsed = parseSpamdRequest(bytes(input), max);
  if (!parsed.ok) throw new Error(`refused: ${parsed.reason}`);
  return parsed.request;
}

function refused(input: Uint8Array | string, max = 1 << 20): string {
  const parsed = parseSpamdRequest(typeof input === "string" ? bytes(input) : input, max);
  if (parsed.ok) throw new Error(`accepted: ${JSON.stringify(parsed.request.verb)}`);
  return parsed.reason;
}

// What Exim's spool_mbox writes: a From_ line, the envelope headers, the message with LF line ends.
const MBOX = "From alice@example.org Wed Dec  2 15:00:00 2026\n" +
  "X-Envelope-From: <alice@example.org>\n" +
  "X-Envelope-To: user@example.net, other@example.net\n" +
  "Subject: hello\n\nbody\n";

const verdict = (overrides: Partial<SpamdVerdict> = {}): SpamdVerdict => ({
  action: "add header",
  spam: true,
  score: 7.5,
  threshold: 5,
  rejectThreshold: 10,
  symbols: [{ name: "TEST_A", score: 5, description: "first" }, { name: "TEST_B", score: 2.5 }],
  notes: [],
  ...overrides,
});

describe("parseSpamdRequest", () => {
  it("reads Exim's REPORT SPAMC/1.2 with User, Content-length and the mbox envelope", () => {
    const request = parse(
      `REPORT SPAMC/1.2\r\nUser: nobody\r\nContent-length: ${MBOX.length}\r\n\r\n${MBOX}`,
    );
    assert.equal(request.verb, "REPORT");
    assert.equal(request.protocol, "SPAMC");
    assert.equal(request.version, "1.2");
    assert.equal(request.size, MBOX.length);
    assert.equal(request.truncated, false);
    assert.equal(text(request.message), MBOX);
    assert.deepEqual(request.envelope, {
      sender: "alice@example.org",
      recipients: ["user@example.net", "other@example.net"],
      user: "nobody",
    });
  });

  it("reads Exim's CHECK RSPAMC/1.3 envelope headers, Rcpt repeated", () => {
    const head =
      "CHECK RSPAMC/1.3\r\nContent-length: 5\r\nQueue-Id: 1xYmRr-0006I8-1j\r\nFrom: <a@x.org>\r\n" +
      "Recipient-Number: 2\r\nRcpt: <b@y.net>\r\nRcpt: <c@y.net>\r\nHelo: client.example\r\n" +
      "Hostname: mail.x.org\r\nIP: 192.0.2.7\r\nUser: alice\r\n\r\n";
    const request = parse(`${head}hello`);
    assert.equal(request.protocol, "RSPAMC");
    // `User:` is the sender's $authenticated_id: not the user spamd would scan for (their own user_prefs).
    assert.equal(request.envelope.user, undefined);
    assert.deepEqual(request.envelope, {
      sender: "a@x.org",
      recipients: ["b@y.net", "c@y.net"],
      clientAddress: "192.0.2.7",
      helo: "client.example",
      queueId: "1xYmRr-0006I8-1j",
    });
    assert.deepEqual(request.headers.get("rcpt"), ["<b@y.net>", "<c@y.net>"]);
  });

  it("reads the null sender, and spamc's messages without an envelope", () => {
    assert.equal(parse("CHECK RSPAMC/1.3\r\nContent-length: 0\r\nFrom: <>\r\n\r\n").envelope.sender, "");
    const request = parse("CHECK SPAMC/1.5\r\nContent-length: 9\r\n\r\nSubject:\n");
    assert.deepEqual(request.envelope, { sender: "", recipients: [] });
  });

  it("reads the envelope only from the lines Exim's mbox copy puts right under its From_ line", () => {
    // The null sender: Exim writes no X-Envelope-From, and the message's own is the sender's word.
    const bounce = "From MAILER-DAEMON Wed Dec  2 15:00:00 2026\nX-Envelope-To: user@example.net\n" +
      "X-Envelope-From: <ceo@bank.example>\nSubject: failure notice\n\nbody\n";
    const mbox = parse(`REPORT SPAMC/1.2\r\nContent-length: ${bounce.length}\r\n\r\n${bounce}`);
    assert.deepEqual(mbox.envelope, { sender: "", recipients: ["user@example.net"] });
    // spamc's message has no From_ line: its headers are the message's, not an envelope.
    const plain = "X-Envelope-From: <a@x.org>\nX-Envelope-To: trap@example.org\nSubject: s\n\nb\n";
    const spamc = parse(`REPORT SPAMC/1.5\r\nContent-length: ${plain.length}\r\n\r\n${plain}`);
    assert.deepEqual(spamc.envelope, { sender: "", recipients: [] });
  });

  it("reads every recipient of a long X-Envelope-To, past 64 KiB", () => {
    // 1 200 recipients of 60 characters: 74 KB on one line. Read from the first 64 KiB only, the last 150
    // were lost and a spamtrap rule missed a trap listed among them.
    const recipients = Array.from({ length: 1200 }, (_, i) => `${"r".repeat(46)}${1000 + i}@example.net`);
    const mbox = "From alice@example.org Wed Dec  2 15:00:00 2026\nX-Envelope-From: <alice@example.org>\n" +
      `X-Envelope-To: ${recipients.join(", ")}\nSubject: hello\n\nbody\n`;
    assert.ok(mbox.length > 64 * 1024);
    const request = parse(`REPORT SPAMC/1.2\r\nContent-length: ${mbox.length}\r\n\r\n${mbox}`);
    assert.deepEqual(request.envelope.recipients, recipients);
  });

  it("reads UTF-8 addresses (SMTPUTF8) as UTF-8, in the rspamd head and in X-Envelope-To", () => {
    // Exim passes an SMTPUTF8 address's bytes as they came. Read as latin1, "fälle@example.net" became
    // "fÃ¤lle@example.net" and a spamtrap rule naming it never matched.
    const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));
    const rspamd = parseSpamdRequest(
      utf8(
        "CHECK RSPAMC/1.3\r\nContent-length: 2\r\nFrom: <jörg@example.org>\r\nRcpt: <fälle@example.net>\r\n\r\nhi",
      ),
      1 << 20,
    );
    assert.ok(rspamd.ok);
    assert.equal(rspamd.request.envelope.sender, "jörg@example.org");
    assert.deepEqual(rspamd.request.envelope.recipients, ["fälle@example.net"]);
    const mbox = utf8(
      "From jörg@example.org Wed Dec  2 15:00:00 2026\nX-Envelope-From: <jörg@example.org>\n" +
        "X-Envelope-To: user@example.net, fälle@example.net\nSubject: s\n\nbody\n",
    );
    const spamc = parseSpamdRequest(
      new Uint8Array([...bytes(`REPORT SPAMC/1.2\r\nContent-length: ${mbox.length}\r\n\r\n`), ...mbox]),
      1 << 20,
    );
    assert.ok(spamc.ok);
    assert.equal(spamc.request.envelope.sender, "jörg@example.org");
    assert.deepEqual(spamc.request.envelope.recipients, ["user@example.net", "fälle@example.net"]);
  });

  it("reads every spamc verb, and PING/SKIP with or without headers", () => {
    for (const verb of ["CHECK", "SYMBOLS", "REPORT", "REPORT_IFSPAM", "PROCESS", "HEADERS"]) {
      assert.equal(parse(`${verb} SPAMC/1.5\r\nContent-length: 2\r\n\r\nhi`).verb, verb);
    }
    assert.equal(parse("PING SPAMC/1.5\r\n\r\n").verb, "PING");
    assert.equal(parse("PING SPAMC/1.2\r\n").verb, "PING");
    assert.equal(parse("SKIP SPAMC/1.5\r\n\r\n").verb, "SKIP");
  });

  it("takes a message without Content-length as all the bytes after the head (spamd reads to EOF)", () => {
    const request = parse("CHECK SPAMC/1.1\r\n\r\nSubject: x\n\nbody\n");
    assert.equal(request.size, 17);
    assert.equal(text(request.message), "Subject: x\n\nbody\n");
  });

  it("keeps at most the bound of a larger message, and says it is truncated", () => {
    const parsed = parseSpamdRequest(
      bytes("CHECK SPAMC/1.5\r\nContent-length: 5000\r\n\r\n" + "x".repeat(1024)),
      1024,
    );
    assert.ok(parsed.ok);
    assert.equal(parsed.request.size, 5000);
    assert.equal(parsed.request.message.length, 1024);
    assert.equal(parsed.request.truncated, true);
  });

  it("does not count the mbox copy's envelope lines against the bound: they take the head's room", () => {
    // Exim's X-Envelope-To lists every recipient: 40 of them took 1.9 KB of a 4 KiB bound, and a message
    // of 3 KB was cut and not scanned (SpamAssassin skips a truncated message).
    const recipients = Array.from({ length: 40 }, (_, i) => `recipient-number-${i}@example.net`);
    const envelope =
      "From alice@example.org Wed Dec  2 15:00:00 2026\nX-Envelope-From: <alice@example.org>\n" +
      `X-Envelope-To: ${recipients.join(", ")}\n`;
    const own = `Subject: hello\n\n${"b".repeat(4096 - 17)}\n`;
    assert.equal(own.length, 4096);
    const copy = envelope + own;
    const request = parse(`REPORT SPAMC/1.2\r\nContent-length: ${copy.length}\r\n\r\n${copy}`, 4096);
    assert.equal(request.truncated, false);
    assert.equal(request.size, copy.length);
    assert.equal(text(request.message), copy);
    assert.equal(request.envelopeBytes, envelope.length);
    assert.deepEqual(request.envelope.recipients, recipients);
    // A byte more of the message itself is over the bound: cut where its own 4096 bytes end.
    const over = copy + "x";
    const cut = parseSpamdRequest(
      bytes(`REPORT SPAMC/1.2\r\nContent-length: ${over.length}\r\n\r\n${over}`),
      4096,
    );
    assert.ok(cut.ok);
    assert.equal(cut.request.truncated, true);
    assert.equal(cut.request.message.length, copy.length);
  });

  it("envelope lines past the head's room take their excess from the message's bound", () => {
    const head = "REPORT SPAMC/1.2\r\nContent-length: 9000\r\n\r\n";
    const envelope = `From a@example.org Wed Dec  2 15:00:00 2026\nX-Envelope-To: ${
      "r@example.net,".repeat(200)
    }\n`;
    assert.ok(head.length + envelope.length > 1024);
    const copy = envelope + "Subject: s\n\n" + "b".repeat(9000 - envelope.length - 12);
    assert.equal(copy.length, 9000);
    const parsed = parseSpamdRequest(bytes(head + copy), 4096, 1024);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(parsed.request.message.length, 1024 + 4096 - head.length); // the framing's whole bound
    assert.equal(parsed.request.truncated, true);
  });

  it("inflates a Compress: zlib message (spamc -z) as spamd does; its Content-length is the compressed one", () => {
    const compressed = deflateSync(Buffer.from(MBOX));
    const head = `PROCESS SPAMC/1.5\r\nCompress: zlib\r\nContent-length: ${compressed.length}\r\n\r\n`;
    const parsed = parseSpamdRequest(Buffer.concat([Buffer.from(head), compressed]), 1 << 20);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(text(parsed.request.message), MBOX);
    assert.equal(parsed.request.size, MBOX.length);
    assert.equal(parsed.request.truncated, false);
    assert.equal(parsed.request.envelope.sender, "alice@example.org");
    // PROCESS answers the message itself, not the compressed bytes (spamd's reply is never compressed).
    const [fromLine, ...rest] = MBOX.split("\n");
    const reply = text(formatSpamdReply(parsed.request, verdict()));
    assert.ok(reply.endsWith(`tests=TEST_A,TEST_B\n${rest.join("\n")}`), reply);
    assert.match(reply, new RegExp(`\r\n\r\n${fromLine}\nX-Spam-Flag: YES\n`));
  });

  it("refuses a compressed message it cannot inflate whole within the bound, as spamd refuses a bad one", () => {
    const request = (compressed: Uint8Array, compress = "zlib", length = `${compressed.length}`) =>
      Buffer.concat([
        Buffer.from(`CHECK SPAMC/1.5\r\nCompress: ${compress}\r\nContent-length: ${length}\r\n\r\n`),
        compressed,
      ]);
    const big = deflateSync(Buffer.alloc(4096, "x"));
    assert.match(refused(request(big), 1024), /^compressed message over 1024 bytes inflated, not scanned$/);
    let seed = 1;
    const noise = Buffer.from(
      Array.from({ length: 4096 }, () => (seed = (seed * 48271) % 2147483647) & 0xff),
    );
    const large = deflateSync(noise);
    assert.ok(large.length > 1024);
    assert.match(refused(request(large), 1024), /^compressed message over 1024 bytes/);
    assert.match(refused(request(Buffer.from("not zlib at all"))), /^zlib: /);
    assert.match(refused(request(big, "gzip")), /^compression type not supported: gzip$/);
    const noLength = Buffer.concat([Buffer.from("CHECK SPAMC/1.5\r\nCompress: zlib\r\n\r\n"), big]);
    assert.match(refused(noLength), /^Compress requires Content-length/);
    const parsed = parseSpamdRequest(request(Buffer.from("not zlib")), 1024);
    assert.ok(!parsed.ok && parsed.code === "EX_UNAVAILABLE");
  });

  it("accepts LF-only heads and header names in any case", () => {
    const request = parse("REPORT SPAMC/1.2\nuser: x\nCONTENT-LENGTH: 2\n\nhi");
    assert.equal(request.envelope.user, "x");
    assert.equal(text(request.message), "hi");
  });

  it("refuses garbage with a reason, never throwing", () => {
    assert.match(refused(""), /empty/);
    assert.match(refused("CHECK SPAMC/1.5\r\nContent-length: 3\r\n"), /without an empty line/);
    assert.match(refused("GET / HTTP/1.1\r\n\r\n"), /bad request line/);
    assert.match(refused("TELL SPAMC/1.5\r\n\r\n"), /unsupported method TELL/);
    assert.match(refused("PROCESS RSPAMC/1.3\r\n\r\n"), /unsupported method PROCESS for RSPAMC/);
    assert.match(refused("CHECK SPAMC/1.5\r\nno colon here\r\n\r\n"), /bad header line/);
    assert.match(refused("CHECK SPAMC/1.5\r\nContent-length: -4\r\n\r\n"), /bad Content-length/);
    assert.match(refused("CHECK SPAMC/1.5\r\nContent-length: 10\r\n\r\nshort"), /expected 10 bytes, got 5/);
    assert.match(refused(new Uint8Array([0xff, 0x00, 0x0a, 0x0a])), /bad request line: \S\?/);
    for (let i = 0; i < 200; i++) {
      const junk = new Uint8Array(64).map(() => Math.floor(Math.random() * 256));
      parseSpamdRequest(junk, 1024); // any answer, no exception
    }
  });
});

describe("spamdHeadEnd", () => {
  it("ends at an empty line, CRLF or LF, and PING before 1.5 at its line", () => {
    assert.equal(spamdHeadEnd(bytes("CHECK SPAMC/1.5\r\n\r\nbody")), 19);
    assert.equal(spamdHeadEnd(bytes("CHECK SPAMC/1.5\n\nbody")), 17);
    assert.equal(spamdHeadEnd(bytes("CHECK SPAMC/1.5\r\nUser: x\r\n")), -1);
    assert.equal(spamdHeadEnd(bytes("PING SPAMC/1.2\r\n")), 16);
    assert.equal(spamdHeadEnd(bytes("PING SPAMC/1.5\r\n")), -1);
  });
});

// Exim's sscanf formats (spam.c), as regular expressions of what they accept.
const EXIM_SPAMASSASSIN = /^SPAMD\/\S{1,7} 0 EX_OK\r\nSpam: \S+ ; (-?[\d.]+) \/ (-?[\d.]+)\r\n\r\n/;
const EXIM_RSPAMD =
  /^RSPAMD\/\S{1,7} 0 EX_OK\r\nMetric: default; \S{1,7} (-?[\d.]+) \/ (-?[\d.]+) \/ (-?[\d.]+)\r\nAction: ([^\r]*)\r\n/;

describe("formatSpamdReply", () => {
  const request = (head: string) => parse(`${head}\r\nContent-length: 13\r\n\r\nSubject: x\n\nb`);

  it("answers Exim's REPORT SPAMC/1.2 in the Spam: shape Exim parses, with the report", () => {
    const reply = text(formatSpamdReply(request("REPORT SPAMC/1.2"), verdict()));
    const match = EXIM_SPAMASSASSIN.exec(reply);
    assert.ok(match, reply);
    assert.deepEqual([match[1], match[2]], ["7.50", "5.00"]);
    assert.ok(reply.endsWith(formatReport(verdict(), EXIM_REPLY_BYTES)));
    assert.match(reply, / 5\.0 TEST_A +first\n/);
  });

  it("answers variant=rspamd with Metric (score / mark / reject) and Action", () => {
    const reply = text(formatSpamdReply(parse("CHECK RSPAMC/1.3\r\nContent-length: 0\r\n\r\n"), verdict()));
    const match = EXIM_RSPAMD.exec(reply);
    assert.ok(match, reply);
    assert.deepEqual(match.slice(1), ["7.50", "5.00", "10.00", "add header"]);
    assert.match(reply, /^Metric: default; True; /m);
    assert.match(reply, /^Symbol: TEST_A\(5\.00\)\r$/m);
    assert.ok(reply.endsWith("\r\n\r\n"));
  });

  it("answers spamc 1.5 as spamd 4.0 does: CHECK, SYMBOLS, REPORT_IFSPAM with Content-length", () => {
    assert.equal(
      formatSpamdReply(request("CHECK SPAMC/1.5"), verdict()),
      "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 7.50 / 5.00\r\n\r\n",
    );
    assert.equal(
      formatSpamdReply(request("SYMBOLS SPAMC/1.5"), verdict()),
      "SPAMD/1.1 0 EX_OK\r\nContent-length: 13\r\nSpam: True ; 7.50 / 5.00\r\n\r\nTEST_A,TEST_B",
    );
    assert.equal(
      formatSpamdReply(request("SYMBOLS SPAMC/1.2"), verdict()),
      "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 7.50 / 5.00\r\n\r\nTEST_A,TEST_B\r\n",
    );
    const ham = verdict({ spam: false, action: "no action", score: 1 });
    assert.equal(
      formatSpamdReply(request("REPORT_IFSPAM SPAMC/1.5"), ham),
      "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: No ; 1.00 / 5.00\r\n\r\n",
    );
  });

  it("PROCESS and HEADERS answer the message with X-Spam-* headers, its bytes as they came", () => {
    // The é as one raw 8-bit byte, as a message may hold it.
    const raw = Uint8Array.from(
      "PROCESS SPAMC/1.5\r\nContent-length: 16\r\n\r\nSubject: \xe9\n\nbody",
      (c) => c.charCodeAt(0),
    );
    const parsed = parseSpamdRequest(raw, 1024);
    assert.ok(parsed.ok);
    const reply = formatSpamdReply(parsed.request, verdict());
    assert.ok(reply instanceof Uint8Array);
    const latin = new TextDecoder("latin1").decode(reply);
    assert.match(
      latin,
      /^SPAMD\/1\.1 0 EX_OK\r\nContent-length: (\d+)\r\nSpam: True ; 7\.50 \/ 5\.00\r\n\r\n/,
    );
    assert.match(
      latin,
      /X-Spam-Flag: YES\nX-Spam-Level: \*{7}\nX-Spam-Status: Yes, score=7\.50 required=5\.00 tests=TEST_A,TEST_B\n/,
    );
    assert.ok(latin.endsWith("Subject: \xe9\n\nbody"));
    const length = Number(/Content-length: (\d+)/.exec(latin)![1]);
    assert.equal(length, latin.length - latin.indexOf("\r\n\r\n") - 4);
    const headers = parseSpamdRequest(
      bytes("HEADERS SPAMC/1.5\r\nContent-length: 15\r\n\r\nSubject: x\n\nbody"),
      1024,
    );
    assert.ok(headers.ok);
    assert.ok(text(formatSpamdReply(headers.request, verdict())).endsWith("Subject: x\n\n"));
  });

  it("PROCESS and HEADERS drop the X-Spam-* headers the message came with, as SpamAssassin does", () => {
    const message = "Subject: x\nX-Spam-Flag: NO\nx-spam-status: No, score=-5.0\n\ttests=FORGED\n" +
      "X-Spam-Prev-Subject: y\nTo: b@example.net\n\nX-Spam-Flag: NO in the body\n";
    for (const verb of ["PROCESS", "HEADERS"]) {
      const parsed = parseSpamdRequest(
        bytes(`${verb} SPAMC/1.5\r\nContent-length: ${message.length}\r\n\r\n${message}`),
        1024,
      );
      assert.ok(parsed.ok);
      const reply = text(formatSpamdReply(parsed.request, verdict()));
      const out = reply.slice(reply.indexOf("\r\n\r\n") + 4);
      const kept = "Subject: x\nX-Spam-Prev-Subject: y\nTo: b@example.net\n\n";
      assert.equal(
        out,
        "X-Spam-Flag: YES\nX-Spam-Level: *******\nX-Spam-Status: Yes, score=7.50 required=5.00 tests=TEST_A,TEST_B\n" +
          kept +
          (verb === "PROCESS" ? "X-Spam-Flag: NO in the body\n" : ""),
      );
      assert.equal(Number(/Content-length: (\d+)/.exec(reply)![1]), new TextEncoder().encode(out).length);
    }
    // Raw 8-bit bytes around a dropped header stay the same bytes.
    const raw = Uint8Array.from(
      "PROCESS SPAMC/1.5\r\nContent-length: 30\r\n\r\nSubject: \x80\xe9\nX-Spam-Flag: NO\n\n\x9f",
      (c) => c.charCodeAt(0),
    );
    const parsed = parseSpamdRequest(raw, 1024);
    assert.ok(parsed.ok);
    const reply = formatSpamdReply(parsed.request, verdict());
    assert.ok(reply instanceof Uint8Array);
    assert.deepEqual([...reply.subarray(reply.length - 14)], [
      ...bytes("Subject: "),
      0x80,
      0xe9,
      10,
      10,
      0x9f,
    ]);
  });

  it("a message that starts with its empty line has no headers: PROCESS and HEADERS leave its body alone", () => {
    for (const eol of ["\n", "\r\n"]) {
      const message = `${eol}X-Spam-Flag: NO in the body${eol}more${eol}`;
      const request = (verb: string) =>
        parse(`${verb} SPAMC/1.5\r\nContent-length: ${message.length}\r\n\r\n${message}`);
      const added =
        `X-Spam-Flag: YES${eol}X-Spam-Level: *******${eol}X-Spam-Status: Yes, score=7.50 required=5.00 tests=TEST_A,TEST_B${eol}`;
      assert.ok(text(formatSpamdReply(request("PROCESS"), verdict())).endsWith(`\r\n\r\n${added}${message}`));
      assert.ok(text(formatSpamdReply(request("HEADERS"), verdict())).endsWith(`\r\n\r\n${added}${eol}`));
    }
  });

  it("PROCESS drops old X-Spam-* headers only in the header section as SpamAssassin ends it", () => {
    // SpamAssassin (Message.pm) ends it at the empty line, at a line starting with "--" (a MIME boundary),
    // or at the fourth line that is no header field; what follows is body, its X-Spam-* lines kept.
    const kept = {
      boundary:
        'Subject: s\nContent-Type: multipart/mixed; boundary="b"\n--b\nX-Spam-Note: part\n\nhi\n--b--\n',
      dashes: "Subject: s\n-- quoted:\nX-Spam-Status: Yes, score=20\n\tfolded\n\nthanks\n",
      fourLines: "Subject: s\none\ntwo\nthree\nfour\nX-Spam-Note: body\n\nend\n",
      crlf: "Subject: s\r\n--b\r\nX-Spam-Note: part\r\n\r\nhi\r\n",
    };
    for (const [name, message] of Object.entries(kept)) {
      const eol = name === "crlf" ? "\r\n" : "\n";
      const added =
        `X-Spam-Flag: YES${eol}X-Spam-Level: *******${eol}X-Spam-Status: Yes, score=7.50 required=5.00 tests=TEST_A,TEST_B${eol}`;
      const request = parse(`PROCESS SPAMC/1.5\r\nContent-length: ${message.length}\r\n\r\n${message}`);
      assert.equal(
        text(formatSpamdReply(request, verdict())).split("\r\n\r\n").slice(1).join("\r\n\r\n"),
        added + message,
        name,
      );
    }
    // Three such lines are still headers to SpamAssassin, and so is the X-Spam-* line under them.
    const three = "Subject: s\none\ntwo\nthree\nX-Spam-Note: old\n\nend\n";
    const request = parse(`PROCESS SPAMC/1.5\r\nContent-length: ${three.length}\r\n\r\n${three}`);
    assert.ok(text(formatSpamdReply(request, verdict())).endsWith("three\n\nend\n"));
  });

  it("PROCESS and HEADERS keep an mbox message's From_ line first, the X-Spam-* headers under it", () => {
    for (const verb of ["PROCESS", "HEADERS"]) {
      const mbox = parse(`${verb} SPAMC/1.5\r\nContent-length: ${MBOX.length}\r\n\r\n${MBOX}`);
      const reply = text(formatSpamdReply(mbox, verdict()));
      const out = reply.slice(reply.indexOf("\r\n\r\n") + 4);
      const [fromLine, ...rest] = MBOX.split("\n");
      assert.ok(
        out.startsWith(`${fromLine}\nX-Spam-Flag: YES\nX-Spam-Level: *******\nX-Spam-Status: Yes, `),
        out,
      );
      assert.ok(out.endsWith(verb === "PROCESS" ? rest.join("\n") : "Subject: hello\n\n"), out);
      assert.equal(Number(/Content-length: (\d+)/.exec(reply)![1]), out.length);
    }
  });

  it("PROCESS and HEADERS keep a leading Return-Path above the X-Spam-* headers, as SpamAssassin does", () => {
    const processed = (verb: string, message: string) => {
      const reply = text(formatSpamdReply(
        parse(`${verb} SPAMC/1.5\r\nContent-length: ${bytes(message).length}\r\n\r\n${message}`),
        verdict(),
      ));
      return reply.slice(reply.indexOf("\r\n\r\n") + 4);
    };
    const added = "X-Spam-Flag: YES\nX-Spam-Level: *******\nX-Spam-Status: Yes, ";
    for (const verb of ["PROCESS", "HEADERS"]) {
      // Folded, and under an old X-Spam-* field that is dropped first (SpamAssassin looks after dropping).
      const folded = "X-Spam-Flag: NO\nreturn-path:\n <alice@example.org>\nSubject: s\n\nbody\n";
      assert.ok(processed(verb, folded).startsWith(`return-path:\n <alice@example.org>\n${added}`), verb);
      const mbox = `From alice@example.org Wed Dec  2 15:00:00 2026\nReturn-Path: <alice@example.org>\n` +
        "Subject: s\n\nbody\n";
      assert.ok(
        processed(verb, mbox).startsWith(
          `From alice@example.org Wed Dec  2 15:00:00 2026\nReturn-Path: <alice@example.org>\n${added}`,
        ),
      );
      const crlf = processed(verb, "Return-Path: <a@b.example>\r\nSubject: s\r\n\r\nbody\r\n");
      assert.ok(
        crlf.startsWith("Return-Path: <a@b.example>\r\nX-Spam-Flag: YES\r\nX-Spam-Level: *******\r\n"),
        crlf,
      );
    }
    // Only a first one: further down it is an old copy, and the X-Spam-* fields go on top.
    assert.ok(processed("PROCESS", "Subject: s\nReturn-Path: <a@b.example>\n\nbody\n").startsWith(added));
    assert.ok(processed("PROCESS", "\nReturn-Path: <a@b.example>\n").startsWith(`${added}`));
  });

  it("PROCESS adds its headers with the message's line end: LF for an LF message, CRLF for a CRLF one", () => {
    for (const [message, eol] of [["Subject: x\n\nb\n", "\n"], ["Subject: x\r\n\r\nb\r\n", "\r\n"]]) {
      const reply = text(
        formatSpamdReply(
          parse(`PROCESS SPAMC/1.5\r\nContent-length: ${message.length}\r\n\r\n${message}`),
          verdict(),
        ),
      );
      const out = reply.slice(reply.indexOf("\r\n\r\n") + 4);
      assert.equal(
        out,
        `X-Spam-Flag: YES${eol}X-Spam-Level: *******${eol}X-Spam-Status: Yes, score=7.50 required=5.00 tests=TEST_A,TEST_B${eol}${message}`,
      );
    }
  });

  it("X-Spam-Level: a star per whole point, at most 50, empty below one point, as SpamAssassin's", () => {
    const level = (score: number) => spamHeaderLines(verdict({ score }))[1];
    assert.equal(level(7.5), "X-Spam-Level: *******");
    assert.equal(level(0.99), "X-Spam-Level: ");
    assert.equal(level(-3), "X-Spam-Level: ");
    assert.equal(level(1004.2), `X-Spam-Level: ${"*".repeat(50)}`);
  });

  it("PROCESS folds a long tests= list after commas, as SpamAssassin does: no header line over 78", () => {
    const symbols = Array.from({ length: 100 }, (_, i) => ({ name: `SOME_LONG_TEST_${i}`, score: 0.1 }));
    const message = "Subject: x\n\nb\n";
    const reply = text(
      formatSpamdReply(
        parse(`PROCESS SPAMC/1.5\r\nContent-length: ${message.length}\r\n\r\n${message}`),
        verdict({ symbols }),
      ),
    );
    const out = reply.slice(reply.indexOf("\r\n\r\n") + 4);
    const head = out.slice(0, out.indexOf("\nSubject: x"));
    for (const line of head.split("\n")) assert.ok(line.length <= 78, line);
    const unfolded = head.replace(/\n\t/g, "");
    assert.match(
      unfolded,
      /^X-Spam-Flag: YES\nX-Spam-Level: \*{7}\nX-Spam-Status: Yes, score=7\.50 required=5\.00 tests=([^\n]*)$/,
    );
    assert.equal(/tests=(.*)$/.exec(unfolded)![1], symbols.map((symbol) => symbol.name).join(","));
    assert.ok(out.endsWith(message));
  });

  it("PROCESS adds at most the 16 KB spamc holds beyond -s: tests= names the rules that fit, and counts the rest", () => {
    const symbols = Array.from(
      { length: 1000 },
      (_, i) => ({ name: `R${i}_`.padEnd(120, "X"), score: 0.01 }),
    );
    const { lines, notShown } = spamHeaders(verdict({ symbols }));
    assert.ok(Buffer.byteLength(lines.join("\r\n") + "\r\n") <= 16_384);
    assert.ok(Buffer.byteLength(lines.join("\r\n") + "\r\n") > 16_000, "the bound used");
    const tests = lines.slice(2).join("").replace(/^.* tests=/, "").replaceAll("\t", "").split(",");
    assert.ok(tests.length > 100, String(tests.length));
    assert.equal(tests.length + notShown, 1000);
    tests.forEach((name, i) => assert.equal(name, `R${i}_`.padEnd(120, "X")));
    const few = spamHeaders(verdict({ symbols: symbols.slice(0, 100) }));
    assert.equal(few.lines.slice(2).join("").replace(/^.* tests=/, "").split(",").length, 100, "all 100 fit");
    assert.equal(few.notShown, 0);
  });

  it("a truncated message cannot be PROCESSed: EX_UNAVAILABLE (spamc then passes it on unchanged)", () => {
    const parsed = parseSpamdRequest(
      bytes("PROCESS SPAMC/1.5\r\nContent-length: 5000\r\n\r\n" + "x".repeat(1024)),
      1024,
    );
    assert.ok(parsed.ok);
    assert.match(text(formatSpamdReply(parsed.request, verdict())), /^SPAMD\/1\.0 69 EX_UNAVAILABLE /);
  });

  it("keeps the report bounded and on single lines", () => {
    const symbols = Array.from(
      { length: 300 },
      (_, i) => ({ name: `S${i}\r\nX`, score: 0.1, description: "a\nb" }),
    );
    const report = formatReport(
      verdict({ symbols, notes: ["not scanned: over 10 bytes"] }),
      EXIM_REPLY_BYTES,
    );
    assert.ok(report.length < 16_000, String(report.length));
    assert.match(report, /\n {5}\.\.\. 200 more rules not shown\n/);
    assert.match(report, /not scanned: over 10 bytes\n$/);
    assert.equal(report.split("\n").length, 4 + 100 + 1 + 1 + 1);
  });

  it("cuts the report at a line to the bytes given, counting each line as Exim copies it", () => {
    const symbols = Array.from(
      { length: 5 },
      (_, i) => ({ name: `RULE_${i}`, score: 1, description: "é".repeat(20) }),
    );
    const whole = formatReport(verdict({ symbols, notes: ["a note"] }), EXIM_REPLY_BYTES);
    const lines = whole.slice(0, -1).split("\n");
    // Each line's bytes, its LF and the space Exim puts after it.
    const cost = lines.reduce((sum, line) => sum + new TextEncoder().encode(line).length + 2, 0);
    assert.equal(formatReport(verdict({ symbols, notes: ["a note"] }), cost), whole);
    const cut = formatReport(verdict({ symbols, notes: ["a note"] }), cost - 1).split("\n");
    assert.deepEqual(cut.slice(-4), [lines[7], "     ... 1 more rule not shown", "a note", ""]);
  });

  // What Exim 4.96's spam.c makes of a reply: at most EXIM_REPLY_BYTES read, the rest dropped; the report
  // copied from where its sscanf stopped, CRs dropped, a space put after each LF.
  const eximReport = (reply: Uint8Array, reportStart: number) => {
    const read = reply.subarray(0, EXIM_REPLY_BYTES);
    const copy = Buffer.from(read.subarray(reportStart)).toString("latin1").replaceAll("\r", "").replaceAll(
      "\n",
      "\n ",
    );
    return { cut: reply.length > read.length, copyBytes: copy.length + 1 /* NUL */ };
  };
  const bytesOf = (reply: string | Uint8Array) => typeof reply === "string" ? bytes(reply) : reply;

  // 150 rules of 200-character names and descriptions, some of them 3 bytes a character: about 90 KB.
  const manyLongRules = verdict({
    symbols: Array.from({ length: 150 }, (_, i) => ({
      name: `R${i}_`.padEnd(200, i % 2 ? "X" : "€"),
      score: 0.05,
      description: "d".padEnd(200, "€"),
    })),
    notes: ["not scanned by spamassassin: it did not answer"],
  });

  it("a report over Exim's 32600-byte buffers is cut so that Exim reads the reply whole, both forms", () => {
    for (const head of ["REPORT SPAMC/1.2", "CHECK RSPAMC/1.3"]) {
      const reply = bytesOf(formatSpamdReply(request(head), manyLongRules));
      const replyText = new TextDecoder().decode(reply);
      const start = head.includes("RSPAMC")
        ? replyText.indexOf("\r\nAction:") + 2
        : replyText.indexOf("\r\n\r\n") + 4;
      const exim = eximReport(reply, Buffer.byteLength(replyText.slice(0, start)));
      assert.equal(exim.cut, false, `${head}: ${reply.length} bytes`);
      assert.ok(exim.copyBytes <= 32_600, `${head}: ${exim.copyBytes}`);
      assert.ok(reply.length > 30_000, `${head}: ${reply.length} bytes, the bound used`);
      const more = /\.\.\. (\d+) more rules not shown/.exec(replyText);
      assert.ok(more, head);
      const shown = replyText.split(/\r?\n/).filter((line) => /R\d+_/.test(line)).length;
      assert.equal(shown + Number(more[1]), 150, head);
      assert.match(replyText, /not scanned by spamassassin: it did not answer\r?\n/);
    }
  });

  // libspamc (spamc 4.0) holds a REPORT or SYMBOLS body in its -s bytes and 16384 more, REPORT's score line
  // (`%.1f/%.1f\n`, at most 30 bytes) counted in it; it never tells the front its -s. Over that: EX_TOOBIG,
  // and spamc prints "0/0" or an empty line.
  const spamcBody = (reply: Uint8Array) => {
    const replyText = new TextDecoder().decode(reply);
    const body = reply.subarray(Buffer.byteLength(replyText.slice(0, replyText.indexOf("\r\n\r\n") + 4)));
    assert.equal(Number(/Content-length: (\d+)/.exec(replyText)![1]), body.length);
    return { length: body.length, text: new TextDecoder().decode(body) };
  };

  it("a report to spamc (SPAMC/1.3 and later) within the 16 KB spamc holds beyond -s", () => {
    for (const head of ["REPORT SPAMC/1.3", "REPORT SPAMC/1.5", "REPORT_IFSPAM SPAMC/1.5"]) {
      const body = spamcBody(bytesOf(formatSpamdReply(request(head), manyLongRules)));
      assert.ok(body.length + 30 <= 16_384, `${head}: ${body.length} bytes`);
      assert.ok(body.length > 15_000, `${head}: ${body.length} bytes, the bound used`);
      const more = /\n {5}\.\.\. (\d+) more rules not shown\n/.exec(body.text);
      assert.ok(more, head);
      const shown = body.text.split("\n").filter((line) => /R\d+_/.test(line)).length;
      assert.equal(shown + Number(more[1]), 150, head);
      assert.match(body.text, /not scanned by spamassassin: it did not answer\n$/);
    }
  });

  it("SYMBOLS within the 16 KB spamc holds beyond -s: only the names that fit, and how many did not", () => {
    const symbols = Array.from({ length: 150 }, (_, i) => ({ name: `R${i}_`.padEnd(200, "€"), score: 0.05 }));
    for (const head of ["SYMBOLS SPAMC/1.5", "SYMBOLS SPAMC/1.2"]) {
      const reply = bytesOf(formatSpamdReply(request(head), verdict({ symbols })));
      const start = Buffer.from(reply).indexOf("\r\n\r\n") + 4;
      const body = head.endsWith("1.5")
        ? spamcBody(reply)
        : { length: reply.length - start, text: new TextDecoder().decode(reply.subarray(start)) };
      assert.ok(body.length <= 16_384, `${head}: ${body.length} bytes`);
      assert.ok(body.length > 16_000, `${head}: ${body.length} bytes, the bound used`);
      const names = body.text.replace(/\r\n$/, "").split(",");
      names.forEach((name, i) => assert.equal(name, symbols[i].name));
      const list = symbolsList(verdict({ symbols }), Number(head.slice(-3)));
      assert.equal(list.text, body.text);
      assert.equal(names.length + list.notShown, 150);
    }
    const few = verdict({ symbols: symbols.slice(0, 3) });
    const all = symbols.slice(0, 3).map((symbol) => symbol.name).join(",");
    assert.ok(text(formatSpamdReply(request("SYMBOLS SPAMC/1.5"), few)).endsWith(`\r\n\r\n${all}`));
    assert.equal(symbolsList(few, 1.5).notShown, 0);
  });
});

describe("formatSpamdError", () => {
  it("words errors as spamd does; Exim cannot parse them and defers the condition", () => {
    assert.equal(
      formatSpamdError("SPAMC", "EX_PROTOCOL", "bad\nline"),
      "SPAMD/1.0 76 EX_PROTOCOL bad?line\r\n",
    );
    assert.equal(formatSpamdError("RSPAMC", "EX_TEMPFAIL", "later"), "RSPAMD/1.3 75 EX_TEMPFAIL later\r\n");
    assert.doesNotMatch(formatSpamdError("SPAMC", "EX_TIMEOUT", "x"), EXIM_SPAMASSASSIN);
  });
});
