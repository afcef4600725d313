// Issue 16, item 0: reading the control plane never stalls the policy path. 200 000 keys are restored by the
// daemon from its state file, then /status and /senders?top=20 are polled in loops (two on the control
// socket, one on the loopback TCP listener, in a process of their own) while Exim-style clients ask the TCP
// policy listener: no policy answer may take over 50 ms. Before, every /status or /senders scanned and
// sorted every key on the thread that answers Exim (0.85–2.4 s worst answer here at 2e5 keys, 1.9–2.5 s per
// /status at 1e6). The 1e6-key version is `npm run stress -- status`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess } from "../helpers/daemon-process.ts";
import { httpGet } from "../helpers/http-get.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { isDeno, ROOT, runCommand } from "../helpers/runtime.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";
import { writeFileSync } from "node:fs";
import { ALERT_NONE, makeCounter, type SenderCounter } from "../../src/policy/sender-counter.ts";
import { serializeState } from "../../src/store/state-file.ts";

const KEYS = 200_000;
// The bound, for the daemon as shipped (Bun). Under Deno, serving HTTP at all costs the policy path
// more: with the pollers asking only /health (no counters, no ranking), single answers took 45–90 ms on
// this shared 2-core machine against 12–20 ms without them (C load generator, 2000 requests/s). The ranking
// made no difference there, so Deno's bound is about that noise, and still far below a stall (0.85–2.4 s
// worst answer at 2e5 keys before the ranking was sliced).
const BOUND_MS = isDeno ? 100 : 50;

describe("control plane under load (200 000 keys)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let controlPort: number;

  before(async () => {
    dir = makeTempDir();
    controlPort = await freePort();
    const config = dir.file("mailpolicyd.conf");
    // log_level info: at debug (writeTestConfig's) every request is a log line
    writeFileSync(
      config,
      `[daemon]\npolicy_socket = ${dir.file("policy.sock")}\npolicy_listen = 127.0.0.1:0\n` +
        `control_socket = ${dir.file("control.sock")}\ncontrol_listen = 127.0.0.1:${controlPort}\n` +
        `pidfile = ${dir.file("pid")}\nstate_file = ${dir.file("state.json")}\nstate_interval = 1h\n` +
        `log_level = info\n[thresholds]\ntime = 1h\ncount = 20\n`,
    );
    // The keys come from a state file written by the daemon's own writer and restored by the daemon at
    // start: 200 000 requests from a JavaScript client took 20 s (Bun) to over a minute (Deno, or a busy
    // machine) here. `npm run stress -- status` fills a million keys through the socket with the C load
    // generator instead.
    const now = Date.now();
    const counters = new Map<string, SenderCounter>();
    for (let i = 0; i < KEYS; i++) {
      counters.set(`user${i}@example.org`, makeCounter(now - 1000, 1 + (i % 15), now - 1000, ALERT_NONE));
    }
    writeFileSync(
      dir.file("state.json"),
      serializeState({ savedAt: now, tables: new Map([["thresholds", counters]]), outbox: [] }),
    );
    daemon = await startDaemonProcess(dir, config);
    await daemon.waitForLog(/info counters: state restored/, 30_000); // restored in slices, while answering
    const status = JSON.parse(
      (await httpGet({ socketPath: dir.file("control.sock"), path: "/status" })).body,
    );
    assert.equal(status.trackedKeys, KEYS);
    // Let the collection after the growth in keys (Bun, store/after-growth.ts) run before measuring.
    await new Promise((resolve) => setTimeout(resolve, 1500));
  });

  after(async () => {
    await daemon?.stopCleanly();
    dir?.remove();
  });

  let asked = 0;
  /** Exim-style clients on the TCP policy listener, 8 at a time, for `ms`: their answer times, sorted. */
  async function clients(ms: number): Promise<number[]> {
    const tcp = { host: daemon.policyAddress!.hostname, port: daemon.policyAddress!.port };
    const times: number[] = [];
    const until = performance.now() + ms;
    const client = async () => {
      while (performance.now() < until) {
        // Every request a key not asked before (104729 is prime to KEYS): no count nears the limit.
        const began = performance.now();
        const reply = await askPolicy(tcp, `user${(asked++ * 104729) % KEYS}@example.org\n`);
        times.push(performance.now() - began);
        assert.equal(reply, "no");
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    return times.sort((a, b) => a - b);
  }
  const figures = (times: number[]) =>
    `${times.length} answers, p99 ${times[Math.floor(times.length * 0.99)].toFixed(1)} ms, ` +
    `worst ${times[times.length - 1].toFixed(1)} ms`;

  /** The pollers (test/helpers/control-poller.ts) in a process of their own, for `ms`. */
  function pollFor(ms: number): Promise<{ socket: number; tcp: number; errors: string[] }> {
    const [command, ...args] = runCommand(`${ROOT}test/helpers/control-poller.ts`);
    const child = spawn(command, [...args, dir.file("control.sock"), String(controlPort), String(ms)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout!.on("data", (chunk) => out += chunk);
    return new Promise((resolve, reject) =>
      child.on("exit", () => {
        try {
          resolve(JSON.parse(out));
        } catch {
          reject(new Error(`the poller said: ${out}`));
        }
      })
    );
  }

  it(`no policy answer over ${BOUND_MS} ms while /status and /senders are polled`, async () => {
    // A busy machine's scheduler alone can hold an answer that long (this one, shared, often does): the
    // clients run alone first, so that a failure says how they fared without polling, and a failed round is
    // tried again, up to five times. A stall of the control plane (~0.4 s per /status at 2e5 keys before
    // issue 16, and a ranking at least every second while polled) shows in every round.
    const rounds: string[] = [];
    for (let round = 0; round < 5; round++) {
      const alone = await clients(1000);
      const [times, polled] = await Promise.all([clients(3000), pollFor(3000)]);
      assert.deepEqual(polled.errors, [], "every poll answered 200, /senders with 20 rows");
      rounds.push(
        `while polled: ${figures(times)}; alone: ${figures(alone)}; ` +
          `polls answered: ${polled.socket} on the socket, ${polled.tcp} on TCP`,
      );
      // The pollers must have been served too, at about the pace the listeners allow (50/s and 5/s).
      if (times[times.length - 1] <= BOUND_MS && polled.socket >= 20 && polled.tcp >= 4) return;
    }
    assert.fail(rounds.join("\n"));
  });
});
