// The [postfix] listener of an in-process daemon, driven as Postfix's smtpd drives it, on its Unix socket
// and loopback TCP: many requests per connection and many connections, a request split across writes,
// states without a stage (VRFY) answered at once, a malformed or over-long request logged and its
// connection closed unanswered (Postfix then applies default_action), the configured words, an idle
// connection closed, and a reload that changes the words.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const RCPT_BLOCK = readFileSync(new URL("../fixtures/postfix/rcpt-request.txt", import.meta.url), "utf8");

/** The recorded block with some attributes set to other values. */
const block = (values: Record<string, string>) =>
  RCPT_BLOCK.replace(
    /^([a-z_]+)=.*$/gm,
    (line, name: string) => name in values ? `${name}=${values[name]}` : line,
  );

interface Client {
  send(text: string): void;
  /** The next reply (up to its empty line), or "closed" when the server closes first. */
  reply(): Promise<string>;
  closed: Promise<void>;
  destroy(): void;
}

function connect(to: net.NetConnectOpts): Promise<Client> {
  const socket = net.createConnection(to);
  let buffered = "";
  let ended = false;
  let wake = () => {};
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (buffered += chunk, wake()));
  const closed = new Promise<void>((resolve) => socket.on("close", () => (ended = true, wake(), resolve())));
  socket.on("error", () => {});
  const reply = async (): Promise<string> => {
    for (;;) {
      const end = buffered.indexOf("\n\n");
      if (end >= 0) {
        const text = buffered.slice(0, end + 2);
        buffered = buffered.slice(end + 2);
        return text;
      }
      if (ended) return "closed";
      await new Promise<void>((resolve) => wake = resolve);
    }
  };
  return new Promise((resolve) =>
    socket.on(
      "connect",
      () => resolve({ send: (text) => socket.write(text), reply, closed, destroy: () => socket.destroy() }),
    )
  );
}

describe("the [postfix] listener", () => {
  let dir: TempDir;
  let daemon: Daemon;
  let port = 0;
  const lines: string[] = [];
  const configText = (words: string) =>
    `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npidfile = d.pid\n` +
    `state_file = state.json\npolicy_listen = none\n` +
    `[limit out]\ncount = 2\ntime = 1h\nmessage = {key} sent {count} messages\n` +
    `[limit near]\ncount = 1\ntime = 1h\naction = warn\nkey = client_address\nmessage = close to the limit\n` +
    `[postfix]\nlisten = 127.0.0.1:0\nsocket = postfix.sock\nidle_timeout = 1s\nmax_request_size = 2048\n${words}`;

  before(async () => {
    dir = makeTempDir();
    const parsed = parseConfig(configText(""), "test.conf", dir.path);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("debug", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("postfix: listening")), 5000, "Postfix listener");
    port = Number(
      /tcp=127\.0\.0\.1:(\d+)/.exec(lines.find((line) => line.includes("postfix: listening"))!)![1],
    );
  });
  after(() => {
    daemon?.stop();
    dir?.remove();
  });

  it("answers request after request on one connection, in Postfix's words", async () => {
    const client = await connect({ path: dir.file("postfix.sock") });
    const ask = (values: Record<string, string>) => (client.send(block(values)), client.reply());
    const sender = { sender: "alice@example.org", client_address: "192.0.2.1" };
    // The client's second request is over [limit near] (count 1): a warning with its header, said as
    // PREPEND (headers win over WARN: docs/postfix.md, "Replies").
    assert.equal(await ask({ ...sender, instance: "m1" }), "action=DUNNO\n\n");
    assert.equal(
      await ask({ ...sender, instance: "m2" }),
      "action=PREPEND X-Mailpolicyd-Warning: close to the limit\n\n",
    );
    assert.equal(
      await ask({ ...sender, instance: "m3" }),
      "action=DEFER_IF_PERMIT alice@example.org sent 2 messages\n\n",
    );
    client.destroy();
  });

  it("takes requests split across writes, and several in one write, on TCP", async () => {
    const client = await connect({ host: "127.0.0.1", port });
    const request = block({ sender: "bob@example.org", client_address: "192.0.2.2", instance: "b1" });
    client.send(request.slice(0, 100));
    await new Promise((resolve) => setTimeout(resolve, 20));
    client.send(request.slice(100, -1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    client.send("\n");
    assert.equal(await client.reply(), "action=DUNNO\n\n");
    const others = ["c1", "c2", "c3"].map((instance) =>
      block({ sender: `${instance}@example.org`, client_address: `192.0.2.1${instance[1]}`, instance })
    );
    client.send(others.join(""));
    for (let i = 0; i < 3; i++) assert.equal(await client.reply(), "action=DUNNO\n\n");
    client.destroy();
  });

  it("answers VRFY at once without asking the engine", async () => {
    const client = await connect({ path: dir.file("postfix.sock") });
    client.send(block({ protocol_state: "VRFY", sender: "", client_address: "192.0.2.3" }));
    assert.equal(await client.reply(), "action=DUNNO\n\n");
    client.destroy();
  });

  it("closes a connection with a malformed or over-long request unanswered, and logs it", async () => {
    for (
      const bad of [
        "request=smtpd_access_policy\nprotocol_state=RCPT\nnot a pair\n\n",
        block({ sender: "x".repeat(3000) }),
      ]
    ) {
      const client = await connect({ path: dir.file("postfix.sock") });
      client.send(bad);
      assert.equal(await client.reply(), "closed");
    }
    assert.ok(
      lines.some((line) => /postfix: malformed request: connection closed unanswered.*line 3/.test(line)),
    );
    // The listener goes on serving.
    const client = await connect({ path: dir.file("postfix.sock") });
    client.send(block({ sender: "carol@example.org", client_address: "192.0.2.4", instance: "d1" }));
    assert.equal(await client.reply(), "action=DUNNO\n\n");
    client.destroy();
  });

  it("closes a connection idle past idle_timeout", async () => {
    const client = await connect({ host: "127.0.0.1", port });
    client.send(block({ sender: "dave@example.org", client_address: "192.0.2.5", instance: "e1" }));
    assert.equal(await client.reply(), "action=DUNNO\n\n");
    const started = Date.now();
    await client.closed;
    assert.ok(Date.now() - started >= 500, "not before the idle timeout");
  });

  it("closes a connection that stops in the middle of a request, and logs why", async () => {
    const client = await connect({ path: dir.file("postfix.sock") });
    client.send(block({ sender: "erin@example.org", client_address: "192.0.2.8", instance: "f1" }));
    assert.equal(await client.reply(), "action=DUNNO\n\n");
    client.send("request=smtpd_access_policy\nprotocol_state=RCPT\n");
    assert.equal(await client.reply(), "closed");
    await waitFor(
      () =>
        lines.some((line) =>
          /postfix: connection closed reason="no complete request within the timeout"/.test(line)
        ),
      3000,
      "the log line",
    );
  });

  it("a reload keeps which header each message got: none a second time", async () => {
    // Postfix adds every RCPT's PREPEND to the message; a memory lost at a reload would add it again.
    const client = await connect({ path: dir.file("postfix.sock") });
    const ask = (values: Record<string, string>) => (client.send(block(values)), client.reply());
    const from = (sender: string, instance: string) => ({ sender, client_address: "192.0.2.60", instance });
    assert.equal(await ask(from("kim1@example.org", "k0")), "action=DUNNO\n\n");
    assert.equal(
      await ask(from("kim2@example.org", "k1")),
      "action=PREPEND X-Mailpolicyd-Warning: close to the limit\n\n",
    );
    const parsed = parseConfig(configText(""), "test.conf", dir.path);
    assert.ok(parsed.ok);
    daemon.reload(parsed.config);
    assert.equal(await ask(from("kim3@example.org", "k1")), "action=WARN close to the limit\n\n");
    client.destroy();
  });

  it("a reload changes the words", async () => {
    const parsed = parseConfig(configText("defer = 451 4.7.1\nheaders = NONE\n"), "test.conf", dir.path);
    assert.ok(parsed.ok);
    daemon.reload(parsed.config);
    const client = await connect({ path: dir.file("postfix.sock") });
    client.send(block({ sender: "alice@example.org", client_address: "192.0.2.1", instance: "m9" }));
    assert.equal(await client.reply(), "action=451 4.7.1 alice@example.org sent 2 messages\n\n");
    client.send(block({ sender: "eve@example.org", client_address: "192.0.2.1", instance: "f1" }));
    assert.equal(await client.reply(), "action=WARN close to the limit\n\n");
    client.destroy();
  });

  it("a reload that changes idle_timeout or max_request_size says they take effect after a restart", async () => {
    // The framing holds both from the start; a reload that kept them silently would leave a postmaster
    // with a postfix-snippet max_idle (read from the file) above the idle_timeout the daemon applies.
    const words = "defer = 451 4.7.1\nheaders = NONE\n";
    for (
      const [from, to] of [["idle_timeout = 1s", "idle_timeout = 2s"], [
        "max_request_size = 2048",
        "max_request_size = 4096",
      ]]
    ) {
      const parsed = parseConfig(configText(words).replace(from, to), "test.conf", dir.path);
      assert.ok(parsed.ok);
      daemon.reload(parsed.config);
      const key = from.split(" ")[0];
      await waitFor(
        () => lines.some((line) => line.includes(`postfix: ${key} changed: takes effect after a restart`)),
        3000,
        `the ${key} warning`,
      );
    }
  });

  it("a reload that changes socket_mode or socket_group says they take effect after a restart", async () => {
    // Set on the socket once, when it is made: a postmaster fixing the group Postfix needs, then reloading,
    // would otherwise see nothing change and no word why.
    const parsed = parseConfig(
      configText("defer = 451 4.7.1\nheaders = NONE\n").replace(
        "socket = postfix.sock\n",
        "socket = postfix.sock\nsocket_mode = 0666\n",
      ),
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok);
    daemon.reload(parsed.config);
    await waitFor(
      () =>
        lines.some((line) =>
          line.includes("postfix: socket_mode or socket_group changed: takes effect after a restart")
        ),
      3000,
      "the socket_mode warning",
    );
  });

  it("a graceful stop closes idle connections and answers a request in flight", async () => {
    const idle = await connect({ path: dir.file("postfix.sock") });
    idle.send(block({ sender: "gina@example.org", client_address: "192.0.2.6", instance: "g1" }));
    assert.equal(await idle.reply(), "action=DUNNO\n\n");
    const busy = await connect({ host: "127.0.0.1", port });
    busy.send(block({ sender: "hugo@example.org", client_address: "192.0.2.7", instance: "h1" }));
    assert.equal(await daemon.drain(2000), 0);
    assert.equal(await busy.reply(), "action=DUNNO\n\n");
    await Promise.all([idle.closed, busy.closed]);
  });
});

describe("the [postfix] listener past max_connections", () => {
  it("closes a connection past the bound without a word, which Postfix takes as no answer", async () => {
    // Postfix has no "busy" reply: a connection it cannot use makes it retry, then apply default_action
    // (as for a malformed block). A text that is not an answer would only add a warning of its own.
    const dir = makeTempDir();
    const lines: string[] = [];
    const parsed = parseConfig(
      `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npidfile = d.pid\n` +
        `state_file = state.json\npolicy_listen = none\nmax_connections = 16\n[limit out]\ncount = 5\ntime = 1h\n` +
        `[postfix]\nsocket = postfix.sock\n`,
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    const daemon = startDaemon({
      config: parsed.config,
      log: createLogger("debug", (line) => lines.push(line)),
    });
    const held: Client[] = [];
    try {
      await waitFor(
        () => lines.some((line) => line.includes("postfix: listening")),
        5000,
        "Postfix listener",
      );
      for (let i = 0; i < 16; i++) held.push(await connect({ path: dir.file("postfix.sock") }));
      const refused = net.createConnection({ path: dir.file("postfix.sock") });
      let received = "";
      refused.on("data", (chunk) => received += chunk);
      refused.on("error", () => {});
      refused.write(block({ sender: "ida@example.org", client_address: "192.0.2.8", instance: "i1" }));
      await new Promise((resolve) => refused.on("close", resolve));
      assert.equal(received, "", "closed without a reply");
      await waitFor(() => lines.some((line) => /too many connections/.test(line)), 3000, "the log line");
      held[0].send(block({ sender: "ida@example.org", client_address: "192.0.2.8", instance: "i2" }));
      assert.equal(
        await held[0].reply(),
        "action=DUNNO\n\n",
        "the connections within the bound are answered",
      );
    } finally {
      for (const client of held) client.destroy();
      await daemon.stop();
      dir.remove();
    }
  });
});
