import assert from "node:assert/strict";
import { describe, it } from "node:test";
import diagnostics from "node:diagnostics_channel";
import { bunListen, collectGarbage, execve, fillTracingHasSubscribers, onBun } from "../../src/runtime.ts";

describe("runtime", () => {
  it("offers Bun's own calls exactly when running on Bun", () => {
    assert.equal(onBun, "Bun" in globalThis);
    assert.equal(typeof bunListen === "function", onBun);
    assert.equal(collectGarbage !== null, onBun);
  });

  it("collects garbage on request where the runtime can", () => {
    if (collectGarbage) collectGarbage(); // returns once the full collection is done
  });

  it("binds execve to process where the runtime has it", () => {
    // deno-lint-ignore no-explicit-any
    assert.equal(execve !== undefined, typeof (process as any).execve === "function");
  });

  it("says whether a tracing channel has subscribers, as ioredis asks before tracing a command", () => {
    fillTracingHasSubscribers();
    fillTracingHasSubscribers(); // twice: the second finds the property and leaves it
    const channel = diagnostics.tracingChannel("mailpolicyd:test");
    assert.equal(channel.hasSubscribers, false);
    const listener = () => {};
    channel.asyncEnd.subscribe(listener);
    assert.equal(channel.hasSubscribers, true);
    channel.asyncEnd.unsubscribe(listener);
    assert.equal(channel.hasSubscribers, false);
  });
});
