// The content rules as a concern: a scan that throws (written never to, so a bug) gives the concern's
// failure, and a flood of such messages is one warning with a count, not a line each.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contentConcern } from "../../../src/engine/content-concern.ts";
import { createLogger } from "../../../src/log.ts";
import type { ContentPolicy } from "../../../src/model/content.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";

const text = new TextEncoder().encode("Subject: hi\r\n\r\nbody\r\n");
const message = {
  form: "message",
  envelope: { sender: "a@example.org", recipients: ["b@example.net"] },
  message: text,
  size: text.length,
  truncated: false,
} as unknown as PolicyRequest;

describe("content concern", () => {
  it("answers a scan that throws with its failure, and warns once for a flood of them", () => {
    const lines: string[] = [];
    const throwing = new Proxy({}, {
      get() {
        throw new Error("a bug in a rule");
      },
    }) as ContentPolicy;
    const concern = contentConcern(() => throwing, createLogger("info", (line) => lines.push(line)));
    const failures: (string | undefined)[] = [];
    for (let i = 0; i < 50; i++) {
      concern.decide(
        message,
        (answer, _ticket, failure) => failures.push(answer === undefined ? failure : "answer"),
      );
    }
    assert.deepEqual(new Set(failures), new Set(["error"]), "every message gets the concern's failure");
    const warned = lines.filter((line) => line.includes("scan failed"));
    assert.equal(warned.length, 1, lines.join("\n"));
    assert.match(warned[0], /a bug in a rule/);
  });
});
