// The bounded queue of scans waiting for a spamd connection (spamd/wait-queue.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createWaitQueue } from "../../../src/spamd/wait-queue.ts";

const waiter = (id: string, deadline: number) => ({ id, deadline });

describe("wait queue", () => {
  it("is first in, first out, and refuses at once when full", () => {
    const queue = createWaitQueue<ReturnType<typeof waiter>>(() => 2);
    assert.equal(queue.offer(waiter("a", 10)), true);
    assert.equal(queue.offer(waiter("b", 20)), true);
    assert.equal(queue.offer(waiter("c", 30)), false);
    assert.equal(queue.size, 2);
    assert.equal(queue.take()?.id, "a");
    assert.equal(queue.offer(waiter("d", 40)), true);
    assert.deepEqual([queue.take()?.id, queue.take()?.id, queue.take()], ["b", "d", undefined]);
  });

  it("a capacity of 0 queues nothing", () => {
    assert.equal(createWaitQueue(() => 0).offer(waiter("a", 1)), false);
  });

  it("gives back the waiters whose deadline passed, in order, and keeps the others", () => {
    const queue = createWaitQueue<ReturnType<typeof waiter>>(() => 10);
    for (const [id, deadline] of [["a", 5], ["b", 30], ["c", 5], ["d", 10]] as const) {
      queue.offer(waiter(id, deadline));
    }
    assert.equal(queue.nextDeadline(), 5);
    assert.deepEqual(queue.expired(4), []);
    assert.deepEqual(queue.expired(10).map((w) => w.id), ["a", "c", "d"]);
    assert.equal(queue.size, 1);
    assert.equal(queue.nextDeadline(), 30);
  });

  it("takes a new capacity as it comes; drain empties it", () => {
    let capacity = 1;
    const queue = createWaitQueue<ReturnType<typeof waiter>>(() => capacity);
    queue.offer(waiter("a", 1));
    capacity = 3;
    assert.equal(queue.offer(waiter("b", 1)), true);
    assert.deepEqual(queue.drain().map((w) => w.id), ["a", "b"]);
    assert.equal(queue.size, 0);
    assert.equal(queue.nextDeadline(), undefined);
  });
});
