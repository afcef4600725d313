// Run by test/unit/engine/answered-asks-heap.test.ts in a process of its own (a forced collection): the
// live heap each request still costs once the policy engine has answered it, when its concern answered
// later than the same turn (so the ask got a deadline entry) and well within its timeout, as the spamd
// front's whole messages and SPF's uncached checks do. Prints one JSON line.
//
//   bun test/helpers/engine-asks-heap.ts
//   deno run -A --v8-flags=--expose-gc test/helpers/engine-asks-heap.ts
import { createPolicyEngine } from "../../src/engine/policy-engine.ts";
import type { Concern, ConcernReply } from "../../src/engine/concern.ts";
import { createLogger } from "../../src/log.ts";
import type { PolicyRequest } from "../../src/policy/request.ts";
import { liveBytes } from "./live-bytes.ts";

const ASKS = 100;
const PAD = 20_000; // elements of each request's payload: 160 KB of heap, as a message body would be

// Answers every ask a turn later, as an actor does.
const later = (reply: ConcernReply) => setTimeout(() => reply({ action: "accept" }), 0);
const concern = (id: string): Concern => ({
  id,
  counts: false,
  applies: () => true,
  check: (_request, reply) => later(reply),
  decide: (_request, reply) => later(reply),
  commit() {},
});

// One concern (asked to decide alone) and two (checked, then merged): the engine's two ways of asking.
const engines = [[concern("a")], [concern("a"), concern("b")]].map((concerns) =>
  createPolicyEngine({
    concerns,
    settings: () => ({ timeoutMs: 600_000, failMode: "open" }),
    log: createLogger("error"),
  })
);

const before = await liveBytes();
for (const engine of engines) {
  await Promise.all(
    Array.from({ length: ASKS }, (_, i) => {
      const request = { form: "attributes", stage: "rcpt", attributes: {}, payload: new Array(PAD).fill(i) };
      // The listener's reply keeps its request, as decide-and-reply.ts does for the decision's log line.
      return new Promise<number>((resolve) =>
        engine.decide(request as unknown as PolicyRequest, () => resolve(request.payload.length))
      );
    }),
  );
}
const after = await liveBytes();
console.log(
  JSON.stringify({ asks: ASKS * engines.length, bytesPerAsk: (after - before) / (ASKS * engines.length) }),
);
for (const engine of engines) engine.stop();
