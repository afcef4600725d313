// The SPF concern's answer per result (src/spf/verdict.ts) and its exemptions (src/spf/exemption.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { CachedCheck } from "../../../src/spf/result-cache.ts";
import { spfAnswer } from "../../../src/spf/verdict.ts";
import { quoteValue } from "../../../src/protocols/attributes.ts";
import { spfExemption } from "../../../src/spf/exemption.ts";
import { POLICY } from "./spf-policy.ts";

const check = (result: CachedCheck["result"], extra: Partial<CachedCheck> = {}): CachedCheck => ({
  result,
  domain: "example.org",
  identity: "mailfrom",
  lookups: 1,
  voidLookups: 0,
  ...extra,
});
const subject = { ip: "192.0.2.9", sender: "alice@example.org", helo: "mx.example.org", receiver: "mx.test" };

describe("SPF answers", () => {
  it("maps each result to its configured action, with rule, fields, tags and a Received-SPF header", () => {
    const expected = {
      pass: "accept",
      fail: "reject",
      softfail: "accept",
      neutral: "accept",
      none: "accept",
    };
    for (const [result, action] of Object.entries({ ...expected, permerror: "accept", temperror: "defer" })) {
      const answer = spfAnswer({ check: check(result as CachedCheck["result"]), policy: POLICY, ...subject });
      assert.equal(answer.action, action, result);
      assert.equal(answer.rule, `spf-${result}`);
      assert.deepEqual(answer.fields, [["spf", result]]);
      assert.deepEqual(answer.tags, [`spf:${result}`]);
      assert.equal(answer.flagged, action !== "accept");
      assert.equal(answer.headers?.length, 1);
      assert.ok(answer.headers![0].startsWith(`Received-SPF: ${result} (mx.test: `), answer.headers![0]);
      assert.equal(answer.message === undefined, action === "accept");
    }
  });

  it("fail: the exp= text when the record gave one, else the default text", () => {
    const withExp = spfAnswer({
      check: check("fail", { explanation: "192.0.2.9 is not ours" }),
      policy: POLICY,
      ...subject,
    });
    assert.equal(withExp.message, "192.0.2.9 is not ours");
    const plain = spfAnswer({ check: check("fail", { mechanism: "-all" }), policy: POLICY, ...subject });
    assert.equal(plain.message, "SPF fail: example.org does not designate 192.0.2.9 as permitted sender");
    assert.equal(plain.logFields?.mechanism, "-all");
    const long = spfAnswer({
      check: check("fail", { explanation: `a\r\n${"b".repeat(400)}` }),
      policy: POLICY,
      ...subject,
    });
    assert.ok(!/[\r\n]/.test(long.message!) && long.message!.length <= 303);
  });

  it("fail: an exp= text that starts with a reply code is not one: Exim would answer with that code", () => {
    const said = (explanation: string) =>
      spfAnswer({ check: check("fail", { explanation }), policy: POLICY, ...subject }).message;
    assert.equal(said("421 4.7.0 closing"), "SPF fail: 421 4.7.0 closing");
    assert.equal(said("250 OK"), "SPF fail: 250 OK");
    assert.equal(said("2500 hosts may not"), "2500 hosts may not");
  });

  it("temperror: defer with a text that says to try later; any result may be configured otherwise", () => {
    assert.match(
      spfAnswer({ check: check("temperror"), policy: POLICY, ...subject }).message!,
      /try again later/,
    );
    const strict = {
      ...POLICY,
      actions: { ...POLICY.actions, softfail: "warn" as const, permerror: "reject" as const },
    };
    const soft = spfAnswer({ check: check("softfail"), policy: strict, ...subject });
    assert.deepEqual([soft.action, soft.message], [
      "warn",
      "SPF softfail: example.org does not designate 192.0.2.9 as permitted sender",
    ]);
    assert.equal(
      spfAnswer({ check: check("permerror", { problem: "bad" }), policy: strict, ...subject }).action,
      "reject",
    );
  });

  it("permerror refused: the problem in the SMTP text is cut and cleaned like the exp= text", () => {
    const strict = { ...POLICY, actions: { ...POLICY.actions, permerror: "reject" as const } };
    // A record listing addresses with commas ("ip4:192.0.2.1,192.0.2.2,…"): one long invalid term.
    const long = `invalid address in "ip4:${"192.0.2.1,".repeat(60)}192.0.2.2"`;
    const answer = spfAnswer({ check: check("permerror", { problem: long }), policy: strict, ...subject });
    assert.equal(answer.action, "reject");
    assert.ok(answer.message!.startsWith("SPF permanent error for example.org: invalid address"));
    assert.ok(answer.message!.length <= 303, `${answer.message!.length} characters`);
    // An include target expanded from the sender's local-part (%{l}) is named in the problem.
    const control = "include target a\r\nb.example.org has no SPF record";
    const cleaned = spfAnswer({
      check: check("permerror", { problem: control }),
      policy: strict,
      ...subject,
    });
    assert.ok(!/[\r\n]/.test(cleaned.message!), JSON.stringify(cleaned.message));
  });

  it("received_spf = no: no header", () => {
    assert.equal(
      spfAnswer({ check: check("pass"), policy: { ...POLICY, receivedSpf: false }, ...subject }).headers,
      undefined,
    );
  });

  it("helo_check = log: the HELO result is reported, never acted on", () => {
    const helo = check("fail", { identity: "helo", domain: "mx.example.org" });
    const answer = spfAnswer({ check: check("pass"), heloCheck: helo, policy: POLICY, ...subject });
    assert.equal(answer.action, "accept");
    assert.deepEqual(answer.fields, [["spf", "pass"], ["spf_helo", "fail"]]);
    assert.deepEqual(answer.tags, ["spf:pass", "spf-helo:fail"]);
    assert.equal(answer.headers?.length, 1, "only the MAIL FROM header");
  });

  it("helo_check = enforce: the stricter of the two decides, and both headers are added", () => {
    const policy = { ...POLICY, heloCheck: "enforce" as const };
    const helo = check("fail", { identity: "helo", domain: "mx.example.org" });
    const answer = spfAnswer({ check: check("pass"), heloCheck: helo, policy, ...subject });
    assert.equal(answer.action, "reject");
    assert.equal(answer.rule, "spf-helo-fail");
    assert.equal(answer.message, "SPF fail: mx.example.org does not designate 192.0.2.9 as permitted sender");
    assert.equal(answer.logFields?.decided_by, "helo");
    assert.equal(answer.headers?.length, 2);
    assert.match(answer.headers![0], /identity=helo;$/);
    assert.equal(
      answer.quotedHeaders,
      quoteValue(answer.headers!.join("\n")),
      "both headers, quoted as the reply does",
    );
    const heloPass = spfAnswer({
      check: check("fail"),
      heloCheck: check("pass", { identity: "helo" }),
      policy,
      ...subject,
    });
    assert.deepEqual(
      [heloPass.action, heloPass.rule],
      ["reject", "spf-fail"],
      "a HELO pass does not excuse a MAIL FROM fail",
    );
  });
});

describe("SPF exemptions", () => {
  const parts = { clientAddress: "192.0.2.9", sender: "alice@example.org" };
  it("checks an unauthenticated client outside the exempt networks", () => {
    assert.equal(spfExemption(POLICY, parts), undefined);
  });
  it("exempts authenticated clients, exempt networks, exempt domains and requests without a client", () => {
    assert.equal(spfExemption(POLICY, { ...parts, saslUsername: "alice" }), "authenticated");
    assert.equal(
      spfExemption({ ...POLICY, exempt: { ...POLICY.exempt, authenticated: false } }, {
        ...parts,
        saslUsername: "a",
      }),
      undefined,
    );
    assert.equal(spfExemption(POLICY, { ...parts, clientAddress: "127.0.0.1" }), "exempt client");
    assert.equal(spfExemption(POLICY, { ...parts, clientAddress: "2001:db8:1::25" }), "exempt client");
    assert.equal(spfExemption(POLICY, { ...parts, clientAddress: "2001:db8:2::25" }), undefined);
    assert.equal(spfExemption(POLICY, { ...parts, sender: "news@lists.example.net" }), "exempt domain");
    assert.equal(spfExemption(POLICY, { ...parts, sender: "x@a.lists.example.net" }), "exempt domain");
    assert.equal(spfExemption(POLICY, { ...parts, sender: "x@otherlists.example.net" }), undefined);
    assert.equal(spfExemption(POLICY, { ...parts, clientAddress: "" }), "no client address");
    assert.equal(spfExemption(POLICY, { ...parts, clientAddress: undefined }), "no client address");
  });
});
