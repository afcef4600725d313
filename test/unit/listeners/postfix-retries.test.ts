// The memory of requests Postfix gave up on (src/listeners/postfix-retries.ts): a retry gets the first
// request's reply, at once or once it is decided; other requests, and one without an instance, are not
// taken; the memory forgets past its bounds.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { REMEMBERED_MS, REMEMBERED_REQUESTS, retryMemory } from "../../../src/listeners/postfix-retries.ts";

const rcpt = (recipient: string, instance = "2d1f.6b0f9f2b.664f2.0") => ({
  instance,
  sender: "a@example.org",
  recipient,
  client_address: "192.0.2.1",
});

function collector() {
  const replies: (string | Uint8Array)[] = [];
  return { replies, reply: (text: string | Uint8Array) => void replies.push(text) };
}

describe("the memory of requests Postfix gave up on", () => {
  it("answers a retry with the reply its first try left unread", () => {
    const memory = retryMemory();
    memory.left("RCPT", rcpt("b@example.net"), "action=DUNNO\n\n");
    const retry = collector();
    assert.equal(memory.answer("RCPT", rcpt("b@example.net"), retry), true);
    assert.deepEqual(retry.replies, ["action=DUNNO\n\n"]);
  });

  it("holds a retry until the first try is decided", () => {
    const memory = retryMemory();
    const first = rcpt("b@example.net");
    memory.left("RCPT", first, undefined);
    const retry = collector();
    assert.equal(memory.answer("RCPT", rcpt("b@example.net"), retry), true);
    assert.deepEqual(retry.replies, []);
    memory.decided(rcpt("b@example.net"), "action=REJECT no\n\n"); // another request's attributes: not it
    assert.deepEqual(retry.replies, []);
    memory.decided(first, "action=DEFER_IF_PERMIT later\n\n");
    assert.deepEqual(retry.replies, ["action=DEFER_IF_PERMIT later\n\n"]);
  });

  it("takes no other request: another recipient, state or message, nor one without an instance", () => {
    const memory = retryMemory();
    memory.left("RCPT", rcpt("b@example.net"), "action=DUNNO\n\n");
    memory.left("RCPT", rcpt("c@example.net", ""), "action=DUNNO\n\n");
    const other = collector();
    assert.equal(memory.answer("RCPT", rcpt("c@example.net"), other), false);
    assert.equal(memory.answer("END-OF-MESSAGE", rcpt("b@example.net"), other), false);
    assert.equal(memory.answer("RCPT", rcpt("b@example.net", "2d1f.6b0f9f2b.664f2.1"), other), false);
    assert.equal(memory.answer("RCPT", rcpt("c@example.net", ""), other), false);
    assert.deepEqual(other.replies, []);
    assert.equal(memory.size, 1);
  });

  it("forgets the oldest past its bound, and any past its time", () => {
    let now = 0;
    const memory = retryMemory(() => now);
    for (let i = 0; i <= REMEMBERED_REQUESTS; i++) memory.left("RCPT", rcpt(`r${i}@example.net`), "x");
    assert.equal(memory.size, REMEMBERED_REQUESTS);
    assert.equal(memory.answer("RCPT", rcpt("r0@example.net"), collector()), false);
    assert.equal(memory.answer("RCPT", rcpt("r1@example.net"), collector()), true);
    now = REMEMBERED_MS + 1;
    assert.equal(memory.answer("RCPT", rcpt("r2@example.net"), collector()), false);
    assert.equal(memory.size, REMEMBERED_REQUESTS - 1);
  });
});
