// Each header goes into a message once (src/policy/header-memory.ts): one Received-SPF a message, one
// limit warning a rule, whatever the count in its text; bounded by messages.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Decision } from "../../../src/model/answer.ts";
import { headerMemory, newHeadersOnly } from "../../../src/policy/header-memory.ts";

const warning = (count: number) => `X-Mailpolicyd-Warning: a@example.org over limit: ${count} recipients`;
const SPF = "Received-SPF: pass (example.org: 192.0.2.1 is permitted) client-ip=192.0.2.1";

describe("headerMemory", () => {
  it("remembers the last `max` messages, forgetting the oldest", () => {
    const firstTime = headerMemory(2);
    assert.equal(firstTime("m1", "X: 1", undefined), true);
    assert.equal(firstTime("m1", "X: 1", undefined), false);
    assert.equal(firstTime("m2", "X: 1", undefined), true);
    assert.equal(firstTime("m3", "X: 1", undefined), true); // m1 forgotten
    assert.equal(firstTime("m1", "X: 1", undefined), true);
    assert.equal(firstTime("m3", "X: 1", undefined), false);
  });

  it("knows a header by its field name, whatever its value or case", () => {
    const firstTime = headerMemory();
    assert.equal(firstTime("m1", SPF, undefined), true);
    assert.equal(firstTime("m1", "received-spf: softfail (other text)", "rule"), false);
    assert.equal(firstTime("m1", "X-Other: 1", undefined), true);
  });

  it("knows a limit's warning by its rule: its count changes from one recipient to the next", () => {
    const firstTime = headerMemory();
    assert.equal(firstTime("m1", warning(2), "fanout"), true);
    assert.equal(firstTime("m1", warning(3), "fanout"), false);
    assert.equal(firstTime("m1", warning(4), "volume"), true, "another rule warns as well");
    assert.equal(firstTime("m2", warning(5), "fanout"), true, "another message");
  });
});

describe("newHeadersOnly", () => {
  const warn = (count: number): Decision => ({
    action: "warn",
    rule: "fanout",
    message: "over",
    headers: [warning(count), SPF],
    quotedHeaders: '"quoted"',
  });

  it("drops the headers the message was given, and their quoted form with them", () => {
    const firstTime = headerMemory();
    const first = warn(2);
    assert.equal(newHeadersOnly(first, "m1", firstTime), first, "all new: the same decision");
    const second = newHeadersOnly(warn(3), "m1", firstTime);
    assert.equal(second.headers, undefined);
    assert.equal(second.quotedHeaders, undefined);
    assert.equal(second.action, "warn");
    assert.equal(second.message, "over");
  });

  it("keeps those not given yet", () => {
    const firstTime = headerMemory();
    newHeadersOnly({ action: "accept", headers: [SPF] }, "m1", firstTime);
    const next = newHeadersOnly(warn(2), "m1", firstTime);
    assert.deepEqual(next.headers, [warning(2)]);
    assert.equal(next.quotedHeaders, undefined);
  });

  it("leaves a refusal, a request without instance and a decision without headers alone", () => {
    const firstTime = headerMemory();
    const defer: Decision = { action: "defer", headers: [SPF] };
    assert.equal(newHeadersOnly(defer, "m1", firstTime), defer);
    assert.equal(newHeadersOnly(defer, "m1", firstTime), defer);
    assert.equal(firstTime("m1", SPF, undefined), true, "a refusal's header is not remembered");
    const accept: Decision = { action: "accept", headers: [SPF] };
    assert.equal(newHeadersOnly(accept, undefined, firstTime), accept);
    assert.equal(newHeadersOnly(accept, "", firstTime), accept);
    const plain: Decision = { action: "accept" };
    assert.equal(newHeadersOnly(plain, "m1", firstTime), plain);
  });
});
