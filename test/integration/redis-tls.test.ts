// [redis] over TLS (rediss://) against a real redis-server with a TLS port and a certificate made here:
// by the host's name and by its IP address (where the runtimes refuse an IP as the TLS server name, so
// none must be sent), the CA from tls_ca_file; and a certificate the CA does not vouch for is refused.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { connectRedis } from "../../src/limits/redis-connection.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { makeCertificates } from "../helpers/test-ca.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("[redis] over TLS, a real redis-server", () => {
  let dir: TempDir;
  let server: RedisServer;
  let port: number;

  before(async () => {
    dir = makeTempDir();
    makeCertificates(dir);
    server = await startRedisServer({
      tls: { certFile: dir.file("server.pem"), keyFile: dir.file("server.key"), caFile: dir.file("ca.pem") },
    });
    port = server.tlsPort!;
  });
  after(async () => {
    await server?.stop();
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
