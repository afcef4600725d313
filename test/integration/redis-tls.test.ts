// [redis] over TLS (rediss://) against a real redis-server with a TLS port and a certificate made here:
// by the host's name and by its IP address (where the runtimes refuse an IP as the TLS server name, so
// none must be sent), the CA from tls_ca_file; and a certificate the CA does not vouch for is refused.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { connectRedis } from "../../src/limits/redis-connection.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { REDIS_SERVER } from "../helpers/redis-server.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

/** A CA and a server certificate for localhost and 127.0.0.1 it signed, made with openssl. */
function makeCertificates(dir: TempDir): void {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir.path, stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
  );
  writeFileSync(dir.file("san.ext"), "subjectAltName = DNS:localhost, IP:127.0.0.1\n");
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "san.ext",
    "-out",
    "server.pem",
  );
  // Another CA, which signed nothing of the server's.
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=other CA",
    "-keyout",
    "other.key",
    "-out",
    "other.pem",
  );
}

describe("[redis] over TLS, a real redis-server", () => {
  let dir: TempDir;
  let server: ChildProcess;
  let port: number;

  before(async () => {
    dir = makeTempDir();
    makeCertificates(dir);
    port = await freePort();
    server = spawn(REDIS_SERVER, [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--tls-cert-file",
      dir.file("server.pem"),
      "--tls-key-file",
      dir.file("server.key"),
      "--tls-ca-cert-file",
      dir.file("ca.pem"),
      "--tls-auth-clients",
      "no",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir.path,
    ], { stdio: "ignore" });
    await waitFor(
      () => {
        try {
          execFileSync("openssl", ["s_client", "-connect", `127.0.0.1:${port}`], {
            input: "",
            stdio: "pipe",
            timeout: 2000,
          });
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      "redis-server's TLS port",
    );
  });
  after(() => {
    server?.kill("SIGKILL");
    dir?.remove();
  });

  const connect = (host: string, ca: string) => {
    const parsed = parseConfig(
      `[redis]\nurl = rediss://${host}:${port}\ntls_ca_file = ${ca}\ntimeout = 2s\n`,
      "t.conf",
      dir.path,
    );
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("; "));
    const errors: string[] = [];
    const client = connectRedis(parsed.config.redis!, (error) => errors.push(error.message));
    return { client, errors };
  };

  for (const host of ["localhost", "127.0.0.1"]) {
    it(`connects by ${host === "localhost" ? "name" : "IP address"} and counts`, async () => {
      const { client, errors } = connect(host, "ca.pem");
      try {
        assert.equal(await client.incr(`tls:${host}`), 1);
        assert.equal(await client.incr(`tls:${host}`), 2);
        assert.deepEqual(errors, []);
      } finally {
        client.disconnect();
      }
    });
  }

  it("refuses a server whose certificate the CA did not sign", async () => {
    const { client, errors } = connect("127.0.0.1", "other.pem");
    try {
      await assert.rejects(client.ping());
      await waitFor(() => errors.length > 0, 5000, "the connection error");
      assert.match(errors.join("\n"), /certificate|self.signed|verify/i);
    } finally {
      client.disconnect();
    }
  });
});
