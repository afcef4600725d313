// A request server as the listeners start it (bounded-server.ts), on real loopback TCP: the promise that
// settles on listening, and the connection bound it is given.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { listenBounded } from "../../../src/listeners/bounded-server.ts";
import { connectionBudget } from "../../../src/listeners/connection-bound.ts";
import type { RequestServer } from "../../../src/listeners/request-server.ts";
import { createLogger } from "../../../src/log.ts";
import { askPolicy } from "../../helpers/policy-client.ts";

const log = createLogger("error", () => {});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("listenBounded", () => {
  const servers: RequestServer[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.stop();
  });

  const start = (port: number, onBusy = () => {}, onError = (_error: Error) => {}) => {
    const started = listenBounded(
      log,
      "test",
      { maxConnections: 1, budget: connectionBudget(), onBusy },
      {
        transport: { hostname: "127.0.0.1", port },
        maxBytes: 64,
        timeoutMs: 500,
        onRequest: (_bytes, responder) => responder.reply("ok\n"),
        onTimeout: (_bytes, responder) => responder.reply("timeout\n"),
        onClosed: () => {},
      },
      onError,
    );
    servers.push(started.server);
    return started.listening;
  };

  it("resolves with the port bound; a port taken rejects, and is not a later error", async () => {
    const bound = await start(0);
    assert.ok("port" in bound && bound.port > 0, JSON.stringify(bound));
    const later: Error[] = [];
    await assert.rejects(start(bound.port, undefined, (error) => later.push(error)));
    await sleep(20);
    assert.deepEqual(later, []);
    assert.equal(await askPolicy({ host: "127.0.0.1", port: bound.port }, "request\n"), "ok\n");
  });

  it("keeps to the bound it is given: past maxConnections the busy reply, and onBusy", async () => {
    let busy = 0;
    const bound = await start(0, () => busy++);
    if (!("port" in bound)) throw new Error("not TCP");
    const held = askPolicy({ host: "127.0.0.1", port: bound.port }, "no newline yet", { halfClose: false });
    await sleep(50);
    assert.equal(
      await askPolicy({ host: "127.0.0.1", port: bound.port }, "request\n"),
      "error busy: too many connections",
    );
    assert.equal(busy, 1);
    assert.equal(await held, "timeout\n");
  });
});
