// The supervisor with small fake children: restart after a failure, backoff growing with repeated
// failures, siblings untouched, and a restarted child started with the current input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createActor } from "xstate";
import { defineActor, deliver } from "../../../src/actors/actor.ts";
import { supervisorMachine } from "../../../src/actors/supervisor.ts";
import { createLogger } from "../../../src/log.ts";

interface Probe {
  starts: string[];
  stops: string[];
}

const fragile = (probe: Probe, name: string) =>
  defineActor<{ generation: number }, { type: "boom" } | { type: "ping"; reply: (answer: unknown) => void }>(
    ({ input }) => {
      probe.starts.push(`${name}#${input.generation}`);
      return {
        receive(event) {
          if (event.type === "boom") throw new Error(`${name} exploded`);
          event.reply(`${name}#${input.generation}`);
        },
        stop: (reason) => probe.stops.push(`${name}:${reason}`),
      };
    },
  );

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("supervisorMachine", () => {
  it("restarts a failed child with fresh input, runs its cleanup, and leaves siblings alone", async () => {
    const probe: Probe = { starts: [], stops: [] };
    const lines: string[] = [];
    let generation = 0;
    const supervisor = createActor(supervisorMachine, {
      input: {
        log: createLogger("debug", (line) => lines.push(line)),
        restartMinMs: 20,
        children: [
          { id: "a", logic: fragile(probe, "a"), input: () => ({ generation: ++generation }) },
          { id: "b", logic: fragile(probe, "b"), input: () => ({ generation: 0 }) },
        ],
      },
    });
    supervisor.start();
    assert.deepEqual(probe.starts, ["a#1", "b#0"]);

    let failedReply: unknown = "none";
    supervisor.system.get("a")!.send({ type: "ping", reply: () => {} });
    supervisor.system.get("a")!.send({ type: "boom" });
    assert.deepEqual(probe.stops, ["a:failure"], "cleanup ran on failure");
    assert.equal(supervisor.system.get("a"), undefined, "a is down until the backoff passes");
    await sleep(80);
    assert.deepEqual(probe.starts, ["a#1", "b#0", "a#2"]);
    const answer = await new Promise((resolve) =>
      supervisor.system.get("a")!.send({ type: "ping", reply: resolve })
    );
    assert.equal(answer, "a#2");
    assert.equal(supervisor.system.get("b")!.getSnapshot().status, "active");
    assert.ok(
      lines.some((line) =>
        /error supervisor: actor failed, restarting actor=a error="a exploded" restart_in_ms=20/.test(line)
      ),
    );

    // A second failure within the minute waits twice as long.
    supervisor.system.get("a")!.send({ type: "boom" });
    await sleep(25);
    assert.equal(supervisor.system.get("a"), undefined, "still backing off after 25 ms");
    await sleep(60);
    assert.equal(supervisor.system.get("a")!.getSnapshot().status, "active");
    assert.ok(lines.some((line) => /restart_in_ms=40/.test(line)));

    // A request to a child whose handler throws is still answered, with undefined.
    const ref = supervisor.system.get("a")!;
    const thrower = defineActor<void, { type: "ask"; reply: (answer: unknown) => void }>(() => ({
      receive() {
        throw new Error("handler bug");
      },
      stop() {},
    }));
    const lone = createActor(thrower, { input: undefined });
    lone.subscribe({ error: () => {} });
    lone.start();
    lone.send({ type: "ask", reply: (value) => failedReply = value });
    assert.equal(failedReply, undefined);
    assert.equal(lone.getSnapshot().status, "error");

    supervisor.stop();
    assert.ok(
      probe.stops.includes("b:stop") && ref.getSnapshot().status === "stopped",
      "stop reaches every child",
    );
  });

  it("deliver: an idle actor handles the event at once; one it is handling waits its turn, in order", () => {
    const seen: string[] = [];
    type Event = { type: "outer" } | { type: "inner"; n: number };
    const nesting = defineActor<void, Event>(() => ({
      receive(event) {
        if (event.type === "inner") return void seen.push(`inner ${event.n}`);
        seen.push("outer begins");
        // From within its own handler, either way in (a sibling answering synchronously sends through
        // xstate): a second event for the same actor must not enter the handler now.
        deliver(self, { type: "inner", n: 1 });
        self.send({ type: "inner", n: 2 });
        seen.push("outer ends");
      },
      stop() {},
    }));
    // Referred to by the handler above, which runs only once it is started.
    const self = createActor(nesting, { input: undefined });
    self.start();
    deliver(self, { type: "outer" });
    assert.deepEqual(seen, ["outer begins", "outer ends", "inner 1", "inner 2"]);
    deliver(self, { type: "inner", n: 3 });
    assert.deepEqual(seen.at(-1), "inner 3", "handled before deliver returned");
    self.stop();
    deliver(self, { type: "inner", n: 4 });
    assert.deepEqual(seen.at(-1), "inner 3", "a stopped actor handles nothing");
  });

  it("deliver: a handler that throws answers undefined at once, and the supervisor restarts the actor", async () => {
    const probe: Probe = { starts: [], stops: [] };
    let generation = 0;
    const supervisor = createActor(supervisorMachine, {
      input: {
        log: createLogger("error", () => {}),
        restartMinMs: 20,
        children: [{ id: "a", logic: fragile(probe, "a"), input: () => ({ generation: ++generation }) }],
      },
    });
    supervisor.start();
    let answer: unknown = "none";
    deliver(supervisor.system.get("a")!, { type: "ping", reply: (value: unknown) => answer = value });
    assert.equal(answer, "a#1");
    // A throwing request: the reply wrapper answers undefined; `boom` has no reply, so ask with one.
    const ref = supervisor.system.get("a")!;
    const failing = { type: "boom", reply: (value: unknown) => answer = value };
    deliver(ref, failing);
    assert.equal(answer, undefined, "answered undefined at once");
    assert.deepEqual(probe.stops, ["a:failure"], "cleanup ran");
    assert.equal(supervisor.system.get("a"), undefined, "down until the backoff passes");
    await sleep(80);
    deliver(supervisor.system.get("a")!, { type: "ping", reply: (value: unknown) => answer = value });
    assert.equal(answer, "a#2", "restarted with fresh input");
    supervisor.stop();
  });
});
