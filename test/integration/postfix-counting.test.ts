// The same mail counts the same through Postfix as through Exim. One daemon, both listeners: for one
// sender, the requests the Exim snippets send (rcpt per recipient with the message's instance, then data
// with $recipients_count); for another, the blocks a real Postfix sends (test/fixtures/postfix/, recorded
// from Postfix 3.7: RCPT with recipient_count=0 and the message's instance, then END-OF-MESSAGE with the
// accepted recipients' count). Limits per recipient and per message, at rcpt and at data, and a small
// leaky one that refuses some recipients: every limit ends at the same count, every answer is the same.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { httpGet } from "../helpers/http-get.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/postfix/${name}`, import.meta.url), "utf8");
const RCPT_BLOCK = fixture("rcpt-request.txt");
const END_BLOCK = fixture("end-of-message-request.txt");

/** A recorded block with some attributes set to other values. */
function block(recorded: string, values: Record<string, string>): string {
  return recorded.replace(
    /^([a-z_]+)=.*$/gm,
    (line, name: string) => name in values ? `${name}=${values[name]}` : line,
  );
}

const LIMITS = `[limit rcpt-recipients]\nper = recipient\ncount = 1000\ntime = 1h\n` +
  `[limit rcpt-messages]\nper = message\ncount = 1000\ntime = 1h\n` +
  `[limit data-recipients]\nper = recipient\nstage = data\ncount = 1000\ntime = 1h\n` +
  `[limit data-messages]\nper = message\nstage = data\ncount = 1000\ntime = 1h\n` +
  `[limit small]\nper = recipient\ncount = 7\ntime = 1h\naction = defer\n`;

/** The recipients of each message sent (the 4th and 5th messages cross the small limit). */
const MESSAGES = [1, 3, 2, 4, 3, 1];

/** A Postfix smtpd's policy connection: one request block after another, each answer read in turn. */
function postfixClient(path: string) {
  const socket = net.createConnection({ path });
  let buffered = "";
  const waiting: Array<(reply: string) => void> = [];
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf("\n\n"); end >= 0 && waiting.length > 0; end = buffered.indexOf("\n\n")) {
      const reply = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      waiting.shift()!(reply);
    }
  });
  return {
    ask: (request: string) =>
      new Promise<string>((resolve) => {
        waiting.push(resolve);
        socket.write(request);
      }),
    close: () => socket.destroy(),
  };
}

/** accept / defer, from either protocol's reply. */
const verdict = (reply: string) =>
  /^action=(defer|DEFER_IF_PERMIT)\b/.test(reply)
    ? "defer"
    : reply.match(/^action=(accept|DUNNO)$/)
    ? "accept"
    : reply;

describe("Postfix and Exim count the same mail the same", () => {
  let dir: TempDir;
  let daemon: Daemon;
  const lines: string[] = [];

  before(async () => {
    dir = makeTempDir();
    const parsed = parseConfig(
      `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npidfile = d.pid\n` +
        `state_file = state.json\npolicy_listen = none\n${LIMITS}[postfix]\nlisten = none\nsocket = postfix.sock\n`,
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("postfix: listening")), 5000, "Postfix listener");
    await waitFor(() => lines.some((line) => line.includes("policy: listening")), 5000, "policy listener");
  });
  after(() => {
    daemon?.stop();
    dir?.remove();
  });

  /** Exim's requests for each message: rcpt per recipient, data if one was accepted. */
  async function throughExim(sender: string): Promise<string[]> {
    const answers: string[] = [];
    for (const [m, recipients] of MESSAGES.entries()) {
      const instance = `1764680000.${m}`;
      let accepted = 0;
      for (let r = 0; r < recipients; r++) {
        const reply = await askPolicy(
          dir.file("policy.sock"),
          `rcpt sender=${sender} recipient=r${r}@example.net client_address=192.0.2.1 client_name= ` +
            `helo_name=client.example sasl_username= instance=${instance}\n`,
        );
        answers.push(verdict(reply));
        if (verdict(reply) === "accept") accepted++;
      }
      if (accepted === 0) continue;
      const reply = await askPolicy(
        dir.file("policy.sock"),
        `data sender=${sender} client_address=192.0.2.1 helo_name=client.example sasl_username= ` +
          `recipient_count=${accepted} size=512 queue_id=1aBcDe-000${m}-Xy instance=${instance} subject=hello\n`,
      );
      answers.push(verdict(reply));
    }
    return answers;
  }

  /** Postfix's blocks for the same messages: RCPT per recipient, END-OF-MESSAGE if one was accepted. */
  async function throughPostfix(sender: string): Promise<string[]> {
    const client = postfixClient(dir.file("postfix.sock"));
    const answers: string[] = [];
    for (const [m, recipients] of MESSAGES.entries()) {
      const instance = `2d1f.6b0f9f2b.664f2.${m}`;
      let accepted = 0;
      for (let r = 0; r < recipients; r++) {
        const reply = await client.ask(
          block(RCPT_BLOCK, {
            sender,
            recipient: `r${r}@example.net`,
            client_address: "192.0.2.1",
            instance,
          }),
        );
        answers.push(verdict(reply));
        if (verdict(reply) === "accept") accepted++;
      }
      if (accepted === 0) continue;
      const reply = await client.ask(block(END_BLOCK, {
        sender,
        recipient: accepted === 1 ? "r0@example.net" : "",
        recipient_count: String(accepted),
        client_address: "192.0.2.1",
        instance,
      }));
      answers.push(verdict(reply));
    }
    client.close();
    return answers;
  }

  const counts = async (sender: string) => {
    const { body } = await httpGet({ socketPath: dir.file("control.sock"), path: `/senders/${sender}` });
    const rows = JSON.parse(body).limits as { rule: string; count: number }[];
    return Object.fromEntries(rows.map((row) => [row.rule, row.count]));
  };

  it("gives the same answers and leaves every limit at the same count", async () => {
    const exim = await throughExim("exim@example.org");
    const postfix = await throughPostfix("postfix@example.org");
    assert.deepEqual(postfix, exim);
    assert.ok(exim.includes("defer") && exim.includes("accept"), exim.join(" "));
    const expected = await counts("exim@example.org");
    assert.deepEqual(await counts("postfix@example.org"), expected);
    // 14 recipients asked, 7 let through (leaky: the deferred ones are not counted), in 4 messages.
    assert.deepEqual(expected, {
      "rcpt-recipients": 7,
      "rcpt-messages": 4,
      "data-recipients": 7,
      "data-messages": 4,
      small: 7,
    });
  });
});
