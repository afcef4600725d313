// The SpamAssassin actor against servers that are not a good spamd (a loopback server the test runs): garbage,
// spamd's error lines, a reply too long, a close without a word, one that never answers. Each scan gets its
// failure (undefined: the engine's fail_mode), is counted by outcome and logged once per kind. The real spamd
// is in test/integration/spamassassin-client.test.ts.
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { createServer, type Server, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { type AnyActorRef, createActor } from "xstate";
import { spamAssassinActor } from "../../../src/actors/spamassassin.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { createMetrics, type Metrics } from "../../../src/control/metrics.ts";
import { createLogger } from "../../../src/log.ts";
import type { ConcernAnswer } from "../../../src/model/answer.ts";

const MESSAGE = new TextEncoder().encode("Subject: hello\r\n\r\nhi\r\n");

/** What each connection to the test's servers sent. */
const socketText = new WeakMap<Socket, string>();

/** A loopback server that answers each connection with `respond` once the request is in. */
function server(respond: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const listening = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => socketText.set(socket, (socketText.get(socket) ?? "") + chunk));
    socket.on("end", () => respond(socket));
  });
  listening.on("close", () => sockets.forEach((socket) => socket.destroy()));
  return new Promise((resolve) =>
    listening.listen(0, "127.0.0.1", () => {
      resolve({ server: listening, port: (listening.address() as { port: number }).port });
    })
  );
}

describe("the SpamAssassin actor against bad servers", () => {
  const servers: Server[] = [];
  let actor: AnyActorRef | undefined;
  after(() => {
    actor?.stop();
    for (const open of servers) open.close();
  });

  async function actorOn(respond: (socket: Socket) => void, keys = "") {
    const { server: open, port } = await server(respond);
    servers.push(open);
    const parsed = parseConfig(`[spamassassin]\naddress = 127.0.0.1:${port}\n${keys}`, "t.conf", "/tmp");
    assert.ok(parsed.ok);
    const metrics: Metrics = createMetrics();
    const lines: string[] = [];
    actor?.stop();
    actor = createActor(spamAssassinActor, {
      input: { config: parsed.config, log: createLogger("info", (line) => lines.push(line)), metrics },
    });
    actor.start();
    const scan = (user?: string) =>
      new Promise<ConcernAnswer | undefined>((resolve) =>
        actor!.send({
          type: "scan",
          request: {
            form: "message",
            envelope: { sender: "", recipients: [], user },
            message: MESSAGE,
            size: MESSAGE.length,
            truncated: false,
          },
          reply: resolve,
        })
      );
    return { scan, metrics, lines };
  }

  const cases: [string, (socket: Socket) => void, RegExp][] = [
    ["garbage", (socket) => socket.end("HTTP/1.0 200 OK\r\n\r\nhello"), /not a spamd reply: HTTP/],
    [
      "spamd's error line",
      (socket) => socket.end("SPAMD/1.0 69 Service Unavailable: no SQL\r\n"),
      /spamd: EX_UNAVAILABLE: Service Unavailable: no SQL/,
    ],
    ["a close without a word", (socket) => socket.end(), /empty reply/],
    ["a reply over 256 KB", (socket) => socket.end("X".repeat(300 * 1024)), /reply over 262144 bytes/],
  ];
  for (const [name, respond, error] of cases) {
    it(`${name}: failed, counted as error, logged once`, async () => {
      const { scan, metrics, lines } = await actorOn(respond);
      assert.equal(await scan(), undefined);
      assert.equal(await scan(), undefined);
      assert.equal(metrics.spamd.scans.error, 2);
      const logged = lines.filter((line) => line.includes("scan failed"));
      assert.equal(logged.length, 1, lines.join("\n"));
      assert.match(logged[0], error);
    });
  }

  // spamd's protocol takes a user name of [-A-Za-z0-9_] (and the dotted and address forms mail hosts use);
  // one it cannot carry is not sent, and spamd scans as its default user. Not sent without a word, a site
  // whose per-user preferences hang on `spam = $local_part` lost them for o'brien unseen.
  it("a user the MTA named that spamd's protocol cannot carry: not sent, and said", async () => {
    const heads: string[] = [];
    const { scan, lines } = await actorOn((socket) => {
      heads.push(socketText.get(socket) ?? "");
      socket.end("SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.5 / 5.0\r\n\r\n");
    });
    await scan("alice");
    await scan("o'brien");
    assert.match(heads[0], /\r\nUser: alice\r\n/);
    assert.doesNotMatch(heads[1], /User:/);
    const said = lines.filter((line) => line.includes("user not sent to spamd"));
    assert.equal(said.length, 1, lines.join("\n"));
    assert.match(
      said[0],
      / warn spamassassin: user not sent to spamd .*: scanned as its default user user=o'brien scans=1$/,
    );
  });

  it("a good reply after failures: answered, and the end of the incident logged with its count", async () => {
    let good = false;
    const { scan, lines } = await actorOn((socket) =>
      socket.end(good ? "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.5 / 5.0\r\n\r\n" : "nonsense")
    );
    await scan();
    good = true;
    assert.deepEqual(await scan(), {
      action: "accept",
      score: 1.5,
      symbols: [],
      tags: ["spamassassin:ham"],
    });
    assert.ok(lines.some((line) => / info spamassassin: spamd answers again failed_scans=1$/.test(line)));
  });

  it("never answering, max_queue 0: one running, the next busy at once, the first a timeout", async () => {
    const { scan, metrics, lines } = await actorOn(
      () => {},
      "timeout = 300ms\nmax_in_flight = 1\nmax_queue = 0\n",
    );
    const first = scan();
    assert.equal(await scan(), undefined);
    assert.equal(metrics.spamd.scans.busy, 1);
    assert.ok(
      lines.some((line) => /outcome=busy error="1 scans running and 0 waiting \(max_queue\)"/.test(line)),
    );
    assert.equal(await first, undefined);
    assert.equal(metrics.spamd.scans.timeout, 1);
    assert.equal(metrics.spamd.live!().inFlight, 0);
    // What was left of the 270 ms deadline, in formatDuration's words: "within 269.996464 ms" before.
    const timedOut = lines.find((line) => line.includes("outcome=timeout"));
    assert.match(timedOut!, /outcome=timeout error="no answer from spamd within 2[67]\dms"$/);
  });

  it("busy between good answers (spamd at capacity): no line per message", async () => {
    const { scan, metrics, lines } = await actorOn(
      (socket) => setTimeout(() => socket.end("SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.5 / 5.0\r\n\r\n"), 20),
      "max_in_flight = 1\nmax_queue = 0\n",
    );
    for (let i = 0; i < 10; i++) {
      const running = scan();
      assert.equal(await scan(), undefined); // max_queue 0: busy at once
      assert.equal((await running)?.score, 1.5);
    }
    assert.equal(metrics.spamd.scans.busy, 10);
    assert.equal(metrics.spamd.scans.ok, 10);
    const logged = lines.filter((line) => / spamassassin: /.test(line));
    assert.ok(logged.length <= 2, logged.join("\n"));
  });

  it("stopped with scans running and waiting: every one answered", async () => {
    const { scan } = await actorOn(() => {}, "max_in_flight = 1\nmax_queue = 5\n");
    const scans = [scan(), scan(), scan()];
    await new Promise((done) => setTimeout(done, 50));
    actor!.stop();
    assert.deepEqual(await Promise.all(scans), [undefined, undefined, undefined]);
  });
});
