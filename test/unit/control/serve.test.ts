// The control listeners' HTTP server, on real sockets: what a client gets for a good request, a bad one, a
// head that never ends, and a connection past the bound.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../../src/log.ts";
import { type RunningServer, serveHttp } from "../../../src/control/serve.ts";
import { BODY_BYTES, HEAD_BYTES } from "../../../src/control/http-message.ts";
import { httpGet } from "../../helpers/http-get.ts";

const log = createLogger("error", () => {});

/** Sends `request` raw and reads to the close: the whole answer as text. */
function exchange(path: string, request: string, halfClose = true): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ path });
    let answer = "";
    socket.on("data", (chunk) => answer += chunk);
    socket.on("error", () => {});
    socket.on("close", () => resolve(answer));
    socket.on("connect", () => {
      socket.write(request);
      if (halfClose) socket.end();
    });
  });
}

describe("serveHttp", () => {
  let dir: string;
  let server: RunningServer | undefined;
  const seen: Array<{ method: string; url: string; host: string | null; body: string }> = [];
  const fetch = async (request: Request) => {
    seen.push({
      method: request.method,
      url: request.url,
      host: request.headers.get("host"),
      body: await request.text(),
    });
    if (request.url.endsWith("/throw")) throw new Error("broken handler");
    if (request.method === "PATCH") return Response.json({ error: "no such endpoint" }, { status: 404 });
    return Response.json({ path: new URL(request.url).pathname });
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "mpd-serve-"));
    seen.length = 0;
  });
  afterEach(() => {
    server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers a request on a Unix socket and on loopback TCP, with the client's Host header", async () => {
    const path = join(dir, "control.sock");
    server = await serveHttp({ unix: path }, fetch, log);
    const unix = await httpGet({ socketPath: path, path: "/health" });
    assert.deepEqual(unix, { status: 200, body: '{"path":"/health"}' });
    server.stop();
    const probe = net.createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => probe.on("listening", resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    server = await serveHttp({ hostname: "127.0.0.1", port }, fetch, log);
    const tcp = await httpGet({ host: "127.0.0.1", port, path: "/status?x=1" });
    assert.deepEqual(tcp, { status: 200, body: '{"path":"/status"}' });
    assert.equal(seen.at(-1)!.host, `127.0.0.1:${port}`);
  });

  it("refuses to start on a port that is taken", async () => {
    const taken = net.createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => taken.on("listening", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    await assert.rejects(serveHttp({ hostname: "127.0.0.1", port }, fetch, log));
    taken.close();
  });

  it("answers an unknown method with 501, a bad request with 400, a failing handler with 500", async () => {
    const path = join(dir, "control.sock");
    server = await serveHttp({ unix: path }, fetch, log);
    assert.match(
      await exchange(path, "PATCH /pot HTTP/1.1\r\nhost: x\r\n\r\n"),
      /^HTTP\/1\.1 404 [^]*no such endpoint/,
    );
    assert.match(
      await exchange(path, "BREW /pot HTTP/1.1\r\nhost: x\r\n\r\n"),
      /^HTTP\/1\.1 501 [^]*method BREW not implemented/,
    );
    assert.match(
      await exchange(path, "\x16\x03\x01 a TLS hello\r\n\r\n"),
      /^HTTP\/1\.1 400 [^]*bad request line/,
    );
    assert.match(await exchange(path, "GET /throw HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 500 /);
    const posted = await exchange(path, "POST /reload HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc");
    assert.match(posted, /^HTTP\/1\.1 200 /);
    assert.deepEqual(seen.at(-1), {
      method: "POST",
      url: "http://localhost/reload",
      host: null,
      body: "abc",
    });
  });

  // Read as no body, they reached the handler: a POST /reload declaring more than 8 KiB was done.
  it("refuses a Content-Length over the bound in any number of digits, or not a number, unserved", async () => {
    const path = join(dir, "control.sock");
    server = await serveHttp({ unix: path }, fetch, log);
    assert.match(
      await exchange(path, "POST /reload HTTP/1.1\r\ncontent-length: 99999999999999999999\r\n\r\n"),
      /^HTTP\/1\.1 413 [^]*a body over 8192 bytes/,
    );
    for (const length of ["-1", "5x", "2\r\ncontent-length: 9000"]) {
      assert.match(
        await exchange(path, `POST /reload HTTP/1.1\r\ncontent-length: ${length}\r\n\r\nab`),
        /^HTTP\/1\.1 400 [^]*a Content-Length that is not one whole number/,
        length,
      );
    }
    assert.deepEqual(seen, []);
  });

  // Resolved against the origin, `//x/sender` named the host x and the path /sender: DELETE of it reset K.
  it("takes a target that starts with two slashes (or a backslash) as a path, not as a host", async () => {
    const path = join(dir, "control.sock");
    server = await serveHttp({ unix: path }, fetch, log);
    for (const target of ["//x/sender?key=K", "/\\x/sender?key=K"]) {
      assert.match(await exchange(path, `DELETE ${target} HTTP/1.1\r\n\r\n`), /^HTTP\/1\.1 200 /);
    }
    assert.deepEqual(seen.map(({ url }) => url), [
      "http://localhost//x/sender?key=K",
      "http://localhost//x/sender?key=K",
    ]);
  });

  // Read in one chunk past maxBytes (HEAD_BYTES + BODY_BYTES), a request and what followed it were all
  // taken as one over-long request: 431 "request head over 19447 bytes" for a head of a few dozen.
  it("answers a request followed by more bytes than a request may hold, in one write, as itself", async () => {
    const path = join(dir, "control.sock");
    server = await serveHttp({ unix: path }, fetch, log);
    const more = "x".repeat(HEAD_BYTES + BODY_BYTES + 1);
    const posted = await exchange(path, `POST /reload HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc${more}`);
    assert.match(posted, /^HTTP\/1\.1 200 [^]*\{"path":"\/reload"\}$/);
    assert.equal(seen.at(-1)!.body, "abc");
    const pipelined = "GET /health HTTP/1.1\r\n\r\n".repeat(Math.ceil(more.length / 25));
    assert.match(await exchange(path, pipelined), /^HTTP\/1\.1 200 [^]*\{"path":"\/health"\}$/);
    assert.equal(seen.length, 2);
  });

  it("answers a head that does not end in time with 408, and a connection past the bound with 503", async () => {
    const path = join(dir, "control.sock");
    server = await serveHttp({ unix: path }, fetch, log, { maxConnections: 2, timeoutMs: 300 });
    const slow = [exchange(path, "GET /health HTTP/1.1\r\n", false), exchange(path, "GET /", false)];
    await new Promise((resolve) => setTimeout(resolve, 50));
    const busy = await exchange(path, "GET /health HTTP/1.1\r\n\r\n", false);
    assert.match(busy, /^HTTP\/1\.1 503 [^]*retry-after: 1\r\n[^]*too many connections/);
    for (const answer of await Promise.all(slow)) assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(await exchange(path, "GET /health HTTP/1.1\r\n\r\n"), /^HTTP\/1\.1 200 /);
    assert.equal(seen.length, 1);
  });
});
