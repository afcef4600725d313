// One request's SPF checks (src/spf/request-check.ts): from the result cache for the TTL the answers had,
// the HELO identity as helo_check says, the null sender as postmaster@HELO, identical checks joined.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkRequest, type SpfChecker, type TtlNote } from "../../../src/spf/request-check.ts";
import { SpfResultCache } from "../../../src/spf/result-cache.ts";
import type { SpfResolver } from "../../../src/spf/types.ts";
import { zoneResolver } from "./zone-resolver.ts";
import { POLICY } from "./spf-policy.ts";
import type { YamlValue } from "./suite-yaml.ts";

const ZONE: { [name: string]: YamlValue } = {
  "example.org": [{ TXT: "v=spf1 include:_spf.example.org -all" }],
  "_spf.example.org": [{ TXT: "v=spf1 ip4:192.0.2.0/24 -all" }],
  "mx.example.org": [{ TXT: "v=spf1 a -all" }, { A: "192.0.2.9" }],
  "per-user.example": [{ TXT: "v=spf1 exists:%{l}.users.per-user.example -all" }],
  "alice.users.per-user.example": [{ A: "127.0.0.2" }],
};

/** A checker over the zone, every answer with a TTL of 60 s; `queries` lists what was asked. */
function checkerFor(clock = { now: 0 }) {
  const zone = zoneResolver(ZONE);
  const withTtl = (ttl: TtlNote): SpfResolver => {
    const noted = <T>(answer: Promise<T>) => answer.finally(() => ttl.note(60));
    return {
      resolveTxt: (name) => noted(zone.resolveTxt(name)),
      resolve4: (name) => noted(zone.resolve4(name)),
      resolve6: (name) => noted(zone.resolve6(name)),
      resolveMx: (name) => noted(zone.resolveMx(name)),
      resolvePtr: (name) => noted(zone.resolvePtr(name)),
    };
  };
  const ran: string[] = [];
  const checker: SpfChecker = {
    dns: { withTtl },
    cache: new SpfResultCache({ maxEntries: 100, maxTtl: 3600, now: () => clock.now }),
    inFlight: new Map(),
    budgetMs: 1000,
    receiver: "mx.test",
    ran: (check) => ran.push(`${check.identity}:${check.result}`),
  };
  return { checker, queries: zone.queries, ran, clock };
}

const alice = { ip: "192.0.2.9", sender: "alice@example.org", helo: "mx.example.org" };

describe("SPF request checks", () => {
  it("checks MAIL FROM and (helo_check = log) HELO, then answers the next request from the cache", async () => {
    const { checker, queries, ran, clock } = checkerFor();
    const first = await checkRequest(checker, POLICY, alice);
    assert.deepEqual(first.fields, [["spf", "pass"], ["spf_helo", "pass"]]);
    assert.match(first.headers![0], /^Received-SPF: pass .*mechanism="include:_spf.example.org";$/);
    const asked = queries.length;
    const second = await checkRequest(checker, POLICY, { ...alice, sender: "bob@example.org" });
    assert.deepEqual(second.fields, [["spf", "pass"], ["spf_helo", "pass"]]);
    assert.equal(queries.length, asked, "no DNS: both from the cache");
    assert.deepEqual(ran.sort(), ["helo:pass", "mailfrom:pass"]);
    clock.now += 60_000;
    await checkRequest(checker, POLICY, alice);
    assert.ok(queries.length > asked, "the TTL ran out: checked again");
  });

  it("helo_check = off asks nothing about the HELO name; a null sender is checked as postmaster@HELO", async () => {
    const { checker, queries } = checkerFor();
    const off = { ...POLICY, heloCheck: "off" as const };
    const answer = await checkRequest(checker, off, { ...alice, ip: "198.51.100.1" });
    assert.deepEqual([answer.action, answer.fields], ["reject", [["spf", "fail"]]]);
    assert.ok(!queries.some((query) => query.includes("mx.example.org")), queries.join(" "));
    const bounce = await checkRequest(checker, POLICY, { ...alice, sender: "" });
    assert.deepEqual(bounce.fields, [["spf", "pass"]], "one identity: helo");
    assert.match(bounce.headers![0], /identity=helo; mechanism=a;$/);
  });

  it("identical checks at the same time run once", async () => {
    const { checker, ran } = checkerFor();
    const off = { ...POLICY, heloCheck: "off" as const };
    const answers = await Promise.all(Array.from({ length: 5 }, () => checkRequest(checker, off, alice)));
    assert.ok(answers.every((answer) => answer.action === "accept"));
    assert.deepEqual(ran, ["mailfrom:pass"]);
    assert.equal(checker.inFlight.size, 0);
  });

  it("a result that depends on the local-part is not given to another sender", async () => {
    const { checker } = checkerFor();
    const off = { ...POLICY, heloCheck: "off" as const };
    const subject = { ip: "192.0.2.9", helo: "h" };
    assert.equal(
      (await checkRequest(checker, off, { ...subject, sender: "alice@per-user.example" })).action,
      "accept",
    );
    assert.equal(
      (await checkRequest(checker, off, { ...subject, sender: "bob@per-user.example" })).action,
      "reject",
    );
    assert.equal(
      (await checkRequest(checker, off, { ...subject, sender: "alice@per-user.example" })).action,
      "accept",
    );
  });
});
