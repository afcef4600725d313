import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bunListen, bunServe, collectGarbage, denoServe, execve, onBun } from "../../src/runtime.ts";

describe("runtime", () => {
  it("offers Bun's own calls exactly when running on Bun", () => {
    assert.equal(onBun, "Bun" in globalThis);
    assert.equal(typeof bunListen === "function", onBun);
    assert.equal(typeof bunServe === "function", onBun);
    assert.equal(collectGarbage !== null, onBun);
    assert.equal(typeof denoServe === "function", "Deno" in globalThis);
  });

  it("collects garbage on request where the runtime can", () => {
    if (collectGarbage) collectGarbage(); // returns once the full collection is done
  });

  it("binds execve to process where the runtime has it", () => {
    // deno-lint-ignore no-explicit-any
    assert.equal(execve !== undefined, typeof (process as any).execve === "function");
  });
});
