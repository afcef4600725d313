// The milter codec (src/protocols/milter.ts): the frames a real Postfix 3.7 sent to a non_smtpd_milters
// milter for two messages handed to its sendmail (test/fixtures/postfix/milter-sendmail-session.hex), cut
// into requests, applied to a message, turned into the engine's `local` request; the negotiation, the
// replies, and malformed frames.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import {
  ACCEPT_REPLY,
  applyMilterCommands,
  CONTINUE_REPLY,
  localRequestAttributes,
  MAX_FRAME_BYTES,
  milterRequestEnd,
  type MilterStep,
  negotiationReply,
  newMilterMessage,
  parseMilterFrames,
  quarantineReply,
  SMFIF_QUARANTINE,
  UNWANTED_EVENTS,
} from "../../../src/protocols/milter.ts";

/** The recorded connections, each as the bytes Postfix sent on it. */
const CONNECTIONS: Buffer[] = readFileSync(
  new URL("../../fixtures/postfix/milter-sendmail-session.hex", import.meta.url),
  "utf8",
).split(/\n\n/).map((part) =>
  Buffer.from(part.split("\n").filter((line) => line !== "" && !line.startsWith("#")).join(""), "hex")
);

/** The requests of a connection as milterRequestEnd cuts them. */
function requests(bytes: Uint8Array): Uint8Array[] {
  const found: Uint8Array[] = [];
  for (let rest = bytes; rest.length > 0;) {
    const end = milterRequestEnd(rest);
    assert.ok(end > 0, `no request end in ${Buffer.from(rest).toString("hex")}`);
    found.push(rest.subarray(0, end));
    rest = rest.subarray(end);
  }
  return found;
}

/** Plays a connection's requests: each step, and the engine request at the end of the message. */
function play(bytes: Uint8Array) {
  const message = newMilterMessage();
  const steps: MilterStep[] = [];
  let local: Record<string, string> | undefined;
  for (const request of requests(bytes)) {
    const parsed = parseMilterFrames(request);
    if (!parsed.ok) throw new Error(parsed.reason);
    const step = applyMilterCommands(message, parsed.commands);
    if (step.kind === "decide") local = localRequestAttributes(message);
    steps.push(step);
  }
  return { steps, local };
}

const frame = (command: string, data: Uint8Array | string = "") => {
  const body = typeof data === "string" ? Buffer.from(data, "latin1") : Buffer.from(data);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + body.length);
  head[4] = command.charCodeAt(0);
  return Buffer.concat([head, body]);
};

describe("milter codec: a real Postfix's sendmail messages", () => {
  it("the fixture holds two connections", () => assert.equal(CONNECTIONS.length, 2));

  it("cuts a connection into one request per event that waits for a reply, macros with their event", () => {
    const commands = requests(CONNECTIONS[0]).map((request) => {
      const parsed = parseMilterFrames(request);
      assert.ok(parsed.ok);
      return parsed.commands.map((command) => command.kind).join("+");
    });
    assert.deepEqual(commands, [
      "optneg",
      "macros+connect",
      "macros+helo",
      "macros+mail",
      "macros+rcpt",
      "macros+rcpt",
      "macros+macros+eom", // DATA's macros come though DATA itself was negotiated away
      "quit",
    ]);
  });

  it("finds no request end in any incomplete prefix", () => {
    const bytes = CONNECTIONS[0];
    const first = milterRequestEnd(bytes);
    for (let cut = 0; cut < first; cut++) {
      assert.equal(milterRequestEnd(bytes.subarray(0, cut)), -1, `at ${cut}`);
    }
  });

  it("answers continue to each event and asks at the end of the message, once, with its envelope", () => {
    const { steps, local } = play(CONNECTIONS[0]);
    const kinds = steps.map((step) =>
      step.kind === "reply" ? Buffer.from(step.bytes).toString("hex") : step.kind
    );
    const cont = Buffer.from(CONTINUE_REPLY).toString("hex");
    assert.deepEqual(kinds.slice(1), [cont, cont, cont, cont, cont, "decide", "close"]);
    assert.deepEqual(local, {
      sender: "root@pfx.test",
      local_user: "root@pfx.test",
      recipient_count: "2",
      recipients: "a@example.test, b@example.test",
      queue_id: "EBABC20C217",
    });
  });

  it("takes the sender a program set with -f", () => {
    assert.deepEqual(play(CONNECTIONS[1]).local, {
      sender: "web@site.test",
      local_user: "web@site.test",
      recipient_count: "1",
      recipients: "c@example.test",
      queue_id: "171BB20C218",
    });
  });

  it("takes the null sender (-f '<>') as local_user <>, a key, bracketed or bare", () => {
    for (const address of ["<>", ""]) {
      const message = newMilterMessage();
      const parsed = parseMilterFrames(
        Buffer.concat([frame("M", `${address}\0`), frame("R", "a@example.test\0")]),
      );
      assert.ok(parsed.ok);
      applyMilterCommands(message, parsed.commands);
      assert.deepEqual(localRequestAttributes(message), {
        sender: "",
        local_user: "<>",
        recipient_count: "1",
        recipients: "a@example.test",
      });
    }
  });

  it("negotiates version 6, quarantine, and leaves out DATA, headers, EOH, body and unknown commands", () => {
    const parsed = parseMilterFrames(requests(CONNECTIONS[0])[0]);
    assert.ok(parsed.ok);
    const [offer] = parsed.commands;
    assert.deepEqual(offer, { kind: "optneg", version: 6, actions: 0x1ff, protocol: 0x1fffff });
    const step = applyMilterCommands(newMilterMessage(), parsed.commands);
    assert.equal(step.kind, "reply");
    const reply = Buffer.from((step as { bytes: Uint8Array }).bytes);
    assert.equal(reply.toString("hex"), "0000000d4f" + "00000006" + "00000020" + "00000370");
    assert.equal(UNWANTED_EVENTS, 0x370);
  });
});

describe("milter codec: negotiation an MTA may offer", () => {
  it("asks only for the events the MTA can leave out", () => {
    const reply = Buffer.from(negotiationReply({ version: 6, actions: SMFIF_QUARANTINE, protocol: 0x30 })!);
    assert.equal(reply.readUInt32BE(13), 0x30);
  });

  it("closes when the MTA cannot quarantine or speaks an older version", () => {
    for (
      const offer of [{ version: 6, actions: 0x1f, protocol: 0 }, { version: 2, actions: 0x3f, protocol: 0 }]
    ) {
      const step = applyMilterCommands(newMilterMessage(), [{ kind: "optneg", ...offer }]);
      assert.equal(step.kind, "close");
      assert.match((step as { reason: string }).reason, /without quarantine|version 2/);
    }
  });
});

describe("milter codec: replies", () => {
  it("quarantines with the reason, then accepts", () => {
    const reply = Buffer.from(quarantineReply("held by rule web: 3/2"));
    const reason = Buffer.from("held by rule web: 3/2\0");
    assert.deepEqual(reply, Buffer.concat([frame("q", reason), Buffer.from(ACCEPT_REPLY)]));
  });

  it("keeps the reason one string on one line", () => {
    const reply = Buffer.from(quarantineReply("a\0b\r\nc"));
    assert.equal(reply.subarray(5, reply.readUInt32BE(0) + 4).toString(), "a b c\0");
  });
});

describe("milter codec: SMTP mail and aborted messages", () => {
  it("accepts an SMTP client's connection unasked (its mail is the policy service's)", () => {
    const connect = frame(
      "C",
      Buffer.concat([
        Buffer.from("client.example\x004"),
        Buffer.from([0x30, 0x39]),
        Buffer.from("192.0.2.1\0"),
      ]),
    );
    const parsed = parseMilterFrames(connect);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.commands[0], {
      kind: "connect",
      hostname: "client.example",
      family: "4",
      port: 12345,
      address: "192.0.2.1",
    });
    const step = applyMilterCommands(newMilterMessage(), parsed.commands);
    assert.deepEqual(step, { kind: "reply", bytes: ACCEPT_REPLY });
  });

  it("forgets an aborted message's envelope, takes SMTP's bracketed addresses", () => {
    const message = newMilterMessage();
    const apply = (bytes: Uint8Array) => {
      const parsed = parseMilterFrames(bytes);
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.reason);
      return applyMilterCommands(message, parsed.commands);
    };
    apply(frame("M", "<a@x.test>\0SIZE=10\0"));
    apply(frame("R", "<one@y.test>\0"));
    apply(Buffer.concat([frame("A"), frame("M", "<b@x.test>\0")]));
    apply(frame("R", "<two@y.test>\0"));
    assert.deepEqual(apply(frame("E")), { kind: "decide" });
    assert.deepEqual(localRequestAttributes(message), {
      sender: "b@x.test",
      local_user: "b@x.test",
      recipient_count: "1",
      recipients: "two@y.test",
    });
  });

  it("counts every recipient, and lists them only up to ten", () => {
    const message = newMilterMessage();
    const rcpt = (n: number) => {
      const parsed = parseMilterFrames(frame("R", `r${n}@y.test\0`));
      assert.ok(parsed.ok);
      return parsed.commands;
    };
    applyMilterCommands(message, [{ kind: "mail", address: "" }]);
    for (let n = 0; n < 10; n++) applyMilterCommands(message, rcpt(n));
    assert.equal(localRequestAttributes(message).recipients?.split(", ").length, 10);
    for (let n = 10; n < 1000; n++) applyMilterCommands(message, rcpt(n));
    assert.deepEqual(localRequestAttributes(message), {
      sender: "",
      local_user: "<>",
      recipient_count: "1000",
    });
    assert.equal(message.recipients.length, 10);
  });
});

describe("milter codec: malformed frames", () => {
  const refused = (bytes: Uint8Array) => {
    const parsed = parseMilterFrames(bytes);
    assert.ok(!parsed.ok, "accepted");
    return parsed.reason;
  };

  it("ends the request at a frame declaring more than the bound, and refuses it", () => {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(MAX_FRAME_BYTES + 1);
    head[4] = 0x4d;
    const bytes = Buffer.concat([frame("D", "Mi\0Q1\0"), head]);
    assert.equal(milterRequestEnd(bytes), bytes.length);
    assert.match(refused(bytes), /over 65536 bytes/);
  });

  it("refuses an empty frame, an unknown command, an unterminated address, odd macros", () => {
    assert.equal(milterRequestEnd(Buffer.alloc(4)), 4);
    assert.match(refused(Buffer.alloc(4)), /length 0/);
    assert.match(refused(frame("Z")), /unknown command 0x5a/);
    assert.match(refused(frame("M", "a@b")), /malformed MAIL/);
    assert.match(refused(frame("R")), /malformed RCPT/);
    assert.match(refused(frame("D", "Mi\0")), /malformed MACRO/);
    assert.match(refused(frame("O", "\0\0\0\x06")), /OPTNEG shorter/);
    assert.match(refused(frame("C", "host\0")), /malformed CONNECT/);
  });

  it("closes a request of macros with no event after them", () => {
    const parsed = parseMilterFrames(frame("D", "Mi\0Q1\0"));
    assert.ok(parsed.ok);
    assert.equal(applyMilterCommands(newMilterMessage(), parsed.commands).kind, "close");
  });
});
