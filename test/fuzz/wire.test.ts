// Wire fuzz against the real daemon: random and adversarial requests over the Unix socket and loopback TCP,
// 16 clients at a time. Every request gets a well-formed reply and a clean end of connection (EOF): never a
// reset, never silence; the daemon neither restarts, logs an error nor keeps file descriptors. Two cases
// are weaker by design (docs/protocol.md, "Connection"): a connection that sent no byte at all may get an
// empty reply, and a client that writes again after a write ending in its newline may see that write fail.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { formatAttributes, KNOWN_ATTRIBUTES, STAGES } from "../../src/protocols/attributes.ts";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";
import { exchange, type Target, type WireCase, type WireResult } from "./wire-client.ts";
import { fuzzRuns, fuzzSeed } from "./runs.ts";

const REQUEST_TIMEOUT_MS = 300;
const ascii = (text: string) => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

const terminator = fc.constantFrom("", "\n", "\r\n", "\r", "\n\n");
const legacyLine = fc.oneof(
  fc.emailAddress(),
  fc.ipV4(),
  fc.ipV6(),
  fc.string({ maxLength: 80 }),
  fc.constant("<>"),
);
const attributeLine = fc.tuple(
  fc.constantFrom(...STAGES, "RCPT", "bogus"),
  fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...KNOWN_ATTRIBUTES), fc.stringMatching(/^[a-z_][a-z0-9_-]{0,12}$/)),
      fc.oneof(fc.emailAddress(), fc.string({ maxLength: 60, unit: "binary" })),
    ),
    { maxLength: 8 },
  ),
).map(([stage, fields]) => `${stage} ${formatAttributes(fields)}`);
const asciiLetters = (length: number) => new Uint8Array(length).fill(0x61);

// What follows a complete line: nothing most often, sometimes more lines or a lot of junk.
const tail = fc.oneof(
  { weight: 4, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 200_000 }).map(asciiLetters) },
);

const payload: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(legacyLine, terminator, tail).map(([l, t, x]) => concat(ascii(l + t), x)),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(attributeLine, terminator, tail).map(([l, t, x]) => concat(ascii(l + t), x)),
  },
  // Over-long: without a newline, with one at its end, or with one far past the 4096-byte limit.
  {
    weight: 2,
    arbitrary: fc.tuple(
      fc.integer({ min: 4000, max: 300_000 }),
      fc.constantFrom("", "\n", "\r\n", "\nmore\n"),
    )
      .map(([length, end]) => concat(asciiLetters(length), ascii(end))),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 9000 }) },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ min: 0x80, max: 0xff, maxLength: 100 }).map((b) =>
      concat(ascii("data subject="), b, ascii("\n"))
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(legacyLine, fc.nat(80)).map(([l, at]) => {
      const b = ascii(l + "\n");
      const cut = Math.min(at, b.length - 1);
      return concat(b.subarray(0, cut), new Uint8Array([0]), b.subarray(cut));
    }),
  },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
);

const wireCase: fc.Arbitrary<WireCase> = payload.chain((bytes) =>
  fc.record({
    payload: fc.constant(bytes),
    cuts: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      { weight: 2, arbitrary: fc.array(fc.nat(bytes.length), { maxLength: 40 }) },
      // The rest in another write, after the line's newline.
      { weight: 1, arbitrary: fc.constant([bytes.indexOf(0x0a) + 1]) },
    ),
    pauseMs: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 5 }),
    }),
    halfClose: fc.constantFrom("after", "after", "after", "none", "none", "early"),
  })
);

function describeCase(c: WireCase): string {
  const head = Buffer.from(c.payload.subarray(0, 60)).toString("latin1");
  return `${c.payload.length} bytes ${JSON.stringify(head)} cuts=${c.cuts.length} pause=${c.pauseMs} ` +
    `halfClose=${c.halfClose}`;
}

/** The bytes the daemon sees as a request: with "early" only the first piece. */
function sentBytes(c: WireCase): number {
  if (c.halfClose !== "early") return c.payload.length;
  const first = c.cuts.filter((cut) => cut > 0 && cut < c.payload.length).sort((a, b) => a - b)[0];
  return first ?? c.payload.length;
}

const REPLY = /^(yes|no|error [^\n\r]+|action=(accept|warn|defer|reject)( [^\n\r]*)?)$/;

/**
 * The client writes again after a write that ended with its line's newline. The daemon answers at that
 * newline and closes at once (the usual request, kept free of any extra wait); a write that arrives after
 * that fails (EPIPE), or turns the close into a reset, and node:net then drops the reply it had not read.
 */
function writesAfterItsLine(c: WireCase): boolean {
  const newline = c.payload.indexOf(0x0a);
  if (newline < 0 || newline + 1 >= c.payload.length) return false;
  const first = c.cuts.filter((cut) => cut > 0 && cut < c.payload.length).sort((a, b) => a - b)[0];
  if (c.halfClose === "early" && (first === undefined || first <= newline + 1)) return false;
  return c.cuts.includes(newline + 1);
}

function problem(c: WireCase, result: WireResult): string | undefined {
  if (result.reply !== "" && !REPLY.test(result.reply)) {
    return `unexpected reply ${JSON.stringify(result.reply)}`;
  }
  // Its own later write may fail before it has read the reply (docs/protocol.md, "Connection").
  if (writesAfterItsLine(c) && (result.end === "epipe" || result.end === "reset")) return undefined;
  if (result.end !== "eof") return result.end;
  if (result.reply === "" && sentBytes(c) > 0) return "empty reply";
  return undefined;
}

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

describe("wire fuzz against the real daemon", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;

  before(async () => {
    dir = makeTempDir();
    daemon = await startDaemonProcess(
      dir,
      writeTestConfig(
        dir,
        `request_timeout = ${REQUEST_TIMEOUT_MS}ms\n[thresholds]\ntime = 300\ncount = 1000000\n`,
      ),
    );
  });
  after(async () => {
    await daemon.stop();
    dir.remove();
  });

  for (const transport of ["unix", "tcp"] as const) {
    it(`answers every request on ${transport === "unix" ? "the Unix socket" : "loopback TCP"}`, async () => {
      const target: Target = transport === "unix"
        ? { path: daemon.policySocket }
        : { host: daemon.policyAddress!.hostname, port: daemon.policyAddress!.port };
      const runs = fuzzRuns(transport === "unix" ? "wire: unix" : "wire: tcp");
      const seed = fuzzSeed() + (transport === "unix" ? 0 : 1);
      const cases = fc.sample(wireCase, { numRuns: runs, seed });
      const fdsBefore = openFds(daemon.pid);
      const failures: string[] = [];
      const ends = new Map<string, number>();
      let late = 0;
      let next = 0;
      const worker = async () => {
        while (next < cases.length) {
          const c = cases[next++];
          const result = await exchange(target, c, REQUEST_TIMEOUT_MS + 5000);
          ends.set(result.end, (ends.get(result.end) ?? 0) + 1);
          if (writesAfterItsLine(c)) late++;
          const wrong = problem(c, result);
          if (wrong) failures.push(`${wrong}: ${describeCase(c)} (${Math.round(result.ms)} ms)`);
        }
      };
      const started = performance.now();
      await Promise.all(Array.from({ length: 16 }, worker));
      console.log(
        `wire fuzz ${transport}: ${cases.length} requests in ${
          Math.round(performance.now() - started)
        } ms, ` +
          `seed ${seed}, ends ${
            JSON.stringify(Object.fromEntries(ends))
          } (${late} wrote after their line), ` +
          `${failures.length} failed`,
      );
      assert.deepEqual(
        failures.slice(0, 200),
        [],
        `${failures.length} of ${cases.length} failed (seed ${seed})`,
      );
      // Every connection is closed again soon (the drain after an early reply is bounded).
      await waitFor(
        () => openFds(daemon.pid) <= fdsBefore,
        5000,
        "the daemon's descriptors to return to their count",
      );
      assert.equal(daemon.child.exitCode, null, "the daemon still runs");
      assert.doesNotMatch(daemon.logs(), / error /, "no error in the log");
      assert.doesNotMatch(daemon.logs(), /restarting|uncaught|unhandled/);
    });
  }
});
