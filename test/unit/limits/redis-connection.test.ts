// What a [redis] section turns into for ioredis (limits/redis-connection.ts): where, credentials, the
// per-command timeout, no retries per command, and an unreadable CA file said, not thrown.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { makeTempDir } from "../../helpers/temp-dir.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { redisOptions } from "../../../src/limits/redis-connection.ts";

const redisOf = (text: string) => {
  const parsed = parseConfig(`[redis]\n${text}`, "t.conf", "/nonexistent");
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("; "));
  return parsed.config.redis!;
};

describe("redisOptions", () => {
  it("TCP with credentials, database and the timeouts", () => {
    const options = redisOf("url = redis://mta:pw@10.0.0.5:6380/2\ntimeout = 150ms\nconnect_timeout = 3s\n");
    const made = redisOptions(options);
    assert.equal(made.host, "10.0.0.5");
    assert.equal(made.port, 6380);
    assert.equal(made.path, undefined);
    assert.equal(made.username, "mta");
    assert.equal(made.password, "pw");
    assert.equal(made.db, 2);
    assert.equal(made.commandTimeout, 150);
    assert.equal(made.connectTimeout, 3000);
    assert.equal(made.maxRetriesPerRequest, 0, "a failed command goes to the fallback, never again to Redis");
    assert.equal(made.tls, undefined);
    // %-escapes in the URL reach ioredis decoded: the host is looked up, the password sent, as meant.
    const escaped = redisOptions(redisOf("url = redis://m%74a:p%40ss@%31%30.0.0.5:6380/2\n"));
    assert.equal(escaped.host, "10.0.0.5");
    assert.equal(escaped.username, "mta");
    assert.equal(escaped.password, "p@ss");
    const retry = made.retryStrategy as (times: number) => number;
    assert.deepEqual([1, 2, 3, 10].map(retry), [100, 200, 400, 5000], "the one backoff, 100 ms up to 5 s");
  });

  it("a Unix socket", () => {
    const made = redisOptions(redisOf("url = unix:/run/redis/redis-server.sock\n"));
    assert.equal(made.path, "/run/redis/redis-server.sock");
    assert.equal(made.host, undefined);
  });

  it("TLS: an unreadable CA file is reported and the connection goes on without it", () => {
    const errors: string[] = [];
    const made = redisOptions(
      redisOf("url = rediss://redis.example.org\ntls_ca_file = ca.pem\n"),
      (error) => errors.push(error.message),
    );
    assert.equal((made.tls as { servername: string }).servername, "redis.example.org");
    assert.equal((made.tls as { ca?: unknown }).ca, undefined);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^cannot read \[redis\] tls_ca_file \/nonexistent\/ca\.pem: /);
  });

  it("TLS: a FIFO as the CA file is reported, not waited on (it hung the start)", () => {
    const dir = makeTempDir();
    try {
      const fifo = dir.file("ca.pem");
      execFileSync("mkfifo", [fifo]);
      const errors: string[] = [];
      const made = redisOptions(
        redisOf(`url = rediss://redis.example.org\ntls_ca_file = ${fifo}\n`),
        (error) => errors.push(error.message),
      );
      assert.equal((made.tls as { ca?: unknown }).ca, undefined);
      assert.deepEqual(errors, [
        `cannot read [redis] tls_ca_file ${fifo}: is a FIFO (named pipe), not a regular file`,
      ]);
    } finally {
      dir.remove();
    }
  });

  it("TLS: a CA file without a certificate is reported and the connection goes on without it", () => {
    const dir = makeTempDir();
    try {
      const file = dir.file("ca.pem");
      writeFileSync(file, "<html>502 Bad Gateway</html>\n");
      const errors: string[] = [];
      const made = redisOptions(
        redisOf(`url = rediss://redis.example.org\ntls_ca_file = ${file}\n`),
        (error) => errors.push(error.message),
      );
      assert.equal((made.tls as { ca?: unknown }).ca, undefined);
      assert.deepEqual(errors, [`cannot use [redis] tls_ca_file ${file}: it holds no PEM certificate`]);
    } finally {
      dir.remove();
    }
  });
});
