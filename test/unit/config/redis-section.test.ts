// The [redis] section (config/schema.ts REDIS_SECTION, config/redis-values.ts): no section, no Redis; the
// URL's forms; every value checked, each error naming file and line.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";

const load = (text: string) => parseConfig(text, "t.conf", "/etc/mailpolicyd");

function errors(text: string): string[] {
  const result = load(text);
  assert.equal(result.ok, false, text);
  return result.ok ? [] : result.errors;
}

describe("[redis]", () => {
  it("absent: counters in memory, [limits] fail_mode untouched", () => {
    const result = load("[daemon]\n");
    assert.ok(result.ok);
    assert.equal(result.config.redis, undefined);
    assert.equal(result.config.concerns.limits.failMode, "open");
  });

  it("url is required", () => {
    assert.deepEqual(errors("[redis]\n"), ["t.conf:1: redis.url: required key missing"]);
  });

  it("a bare URL: the schema's defaults", () => {
    const result = load("[redis]\nurl = redis://127.0.0.1\n");
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.config.redis, {
      address: {
        host: "127.0.0.1",
        port: 6379,
        tls: false,
        username: undefined,
        password: undefined,
        database: undefined,
      },
      username: undefined,
      password: undefined,
      database: 0,
      tlsCaFile: undefined,
      prefix: "mailpolicyd:",
      timeoutMs: 200,
      connectTimeoutMs: 2000,
      fallback: "local",
      overCacheMs: 1000,
      answerAhead: false,
      retryEveryMs: 1000,
    });
  });

  it("answer_ahead: yes or no, an error at its line otherwise", () => {
    const on = load("[redis]\nurl = redis://127.0.0.1\nanswer_ahead = yes\n");
    assert.ok(on.ok);
    assert.equal(on.config.redis!.answerAhead, true);
    assert.deepEqual(errors("[redis]\nurl = redis://127.0.0.1\nanswer_ahead = maybe\n"), [
      "t.conf:3: redis.answer_ahead: expected yes or no",
    ]);
  });

  it("credentials and database from the URL; the keys win over it", () => {
    const fromUrl = load("[redis]\nurl = rediss://mta:s%40cret@[::1]:6380/3\n");
    assert.ok(fromUrl.ok);
    assert.equal(fromUrl.config.redis!.address.host, "::1");
    assert.equal(fromUrl.config.redis!.address.port, 6380);
    assert.equal(fromUrl.config.redis!.address.tls, true);
    assert.equal(fromUrl.config.redis!.username, "mta");
    assert.equal(fromUrl.config.redis!.password, "s@cret");
    assert.equal(fromUrl.config.redis!.database, 3);
    // The host %-decoded as the credentials are (URL leaves a redis: URL's host as written).
    const escaped = load("[redis]\nurl = redis://us%65r:p%40ss%3Aw%2Frd@redis%2Dhost.ex%61mple/0\n");
    assert.ok(escaped.ok);
    assert.equal(escaped.config.redis!.address.host, "redis-host.example");
    assert.equal(escaped.config.redis!.username, "user");
    assert.equal(escaped.config.redis!.password, "p@ss:w/rd");
    const keys = load(
      "[redis]\nurl = rediss://a:b@h/3\nusername = other\npassword = x\ndatabase = 5\ntls_ca_file = ca.pem\n",
    );
    assert.ok(keys.ok);
    assert.equal(keys.config.redis!.username, "other");
    assert.equal(keys.config.redis!.password, "x");
    assert.equal(keys.config.redis!.database, 5);
    assert.equal(keys.config.redis!.tlsCaFile, "/etc/mailpolicyd/ca.pem");
  });

  it("a Unix socket: unix:/PATH or the path alone", () => {
    for (const url of ["unix:/run/redis/redis-server.sock", "/run/redis/redis-server.sock"]) {
      const result = load(`[redis]\nurl = ${url}\n`);
      assert.ok(result.ok, url);
      assert.deepEqual(result.config.redis!.address, { path: "/run/redis/redis-server.sock", tls: false });
    }
  });

  it("fallback open or closed: the limits answer as a failed concern, so as that says", () => {
    for (const fallback of ["open", "closed"]) {
      const result = load(`[daemon]\nfail_mode = open\n[redis]\nurl = redis://h\nfallback = ${fallback}\n`);
      assert.ok(result.ok);
      assert.equal(result.config.concerns.limits.failMode, fallback);
    }
    const local = load("[limits]\nfail_mode = closed\n[redis]\nurl = redis://h\n");
    assert.ok(local.ok);
    assert.equal(local.config.concerns.limits.failMode, "closed");
  });

  it("bad values: one error each, with its line", () => {
    assert.deepEqual(
      errors(
        "[redis]\nurl = http://h\nprefix = a{b}\ntimeout = 5ms\nfallback = maybe\nover_cache = 2m\n",
      ),
      [
        "t.conf:2: redis.url: expected redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS) or unix:/PATH",
        "t.conf:3: redis.prefix: at most 64 printable characters, without spaces, { or }",
        "t.conf:4: redis.timeout: must be at least 10 ms",
        "t.conf:5: redis.fallback: expected one of: local, open, closed",
        "t.conf:6: redis.over_cache: must be at most 1m",
      ],
    );
    for (const db of ["x", "10001", "99999"]) {
      assert.deepEqual(errors(`[redis]\nurl = redis://h/${db}\n`), [
        "t.conf:2: redis.url: the database after the host must be a number from 0 to 10000: redis://HOST/0",
      ]);
    }
    // A broken %-escape in the host or credentials is a config error, not a crash.
    for (const url of ["redis://:p%zz@h", "redis://u%@h", "redis://h%zzost/0", "rediss://ho%4/"]) {
      assert.deepEqual(errors(`[redis]\nurl = ${url}\n`), [
        "t.conf:2: redis.url: the host, user or password has a % not followed by two hex digits (write % as %25)",
      ], url);
    }
    assert.deepEqual(errors("[redis]\nurl = unix:run/redis.sock\n"), [
      "t.conf:2: redis.url: unix: needs an absolute path",
    ]);
    // Other clients' form of a socket with a database: it was taken for a socket named `redis.sock?db=2`.
    for (const url of ["unix:/run/redis.sock?db=2", "/run/redis.sock#x"]) {
      assert.deepEqual(errors(`[redis]\nurl = ${url}\n`), [
        "t.conf:2: redis.url: a unix: path with ? or # (a query): give the database and password as their own keys",
      ], url);
    }
    // The CA file is read only for TLS: with redis:// it was ignored, and the site talked to Redis in clear.
    for (const url of ["redis://h", "unix:/run/redis.sock"]) {
      assert.deepEqual(errors(`[redis]\nurl = ${url}\ntls_ca_file = /etc/ssl/ca.pem\n`), [
        "t.conf:3: redis.tls_ca_file: tls_ca_file is read only with a rediss:// url (TLS); this url is not one",
      ], url);
    }
    // With the url missing or bad, that check read the url's TLS flag from nothing: config-test crashed
    // with a stack trace and no line, a reload logged an uncaught exception instead of the file's error.
    assert.deepEqual(errors("[redis]\ntls_ca_file = /etc/ssl/ca.pem\n"), [
      "t.conf:1: redis.url: required key missing",
    ]);
    assert.deepEqual(errors("[redis]\nurl = rediss//h\ntls_ca_file = /etc/ssl/ca.pem\n"), [
      "t.conf:2: redis.url: expected redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS) or unix:/PATH",
    ]);
    // Port 0 connects nowhere: the daemon ran on its fallback for good, config-test said OK.
    assert.deepEqual(errors("[redis]\nurl = redis://h:0/0\n"), [
      "t.conf:2: redis.url: the port must be a number from 1 to 65535",
    ]);
    // A query or fragment was dropped without a word: `?password=…` (ioredis's and other clients' form)
    // connected without the password, `?db=3` counted in database 0. A `#` or `?` in a password must be
    // escaped (%23, %3F), else the rest was read as a fragment or query.
    for (
      const url of ["redis://h/0?password=secret", "redis://h:6379?db=3", "redis://h/0#x", "redis://h/?"]
    ) {
      assert.deepEqual(errors(`[redis]\nurl = ${url}\n`), [
        "t.conf:2: redis.url: a URL with ? or # (a query or fragment): give the password, user and database as " +
        "their own keys, or write ? as %3F and # as %23 in them",
      ], url);
    }
  });
});
