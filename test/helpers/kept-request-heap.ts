// Run by test/unit/limits/kept-strings.test.ts in a process of its own (a forced collection, and a heap
// that holds nothing else): the live heap a key costs after one padded request each, parsed as the
// listeners parse them and counted by the limit engine over the memory store. Prints one JSON line.
//
//   bun test/helpers/kept-request-heap.ts FORM MODE
//   deno run -A --v8-flags=--expose-gc test/helpers/kept-request-heap.ts FORM MODE
// FORM: postfix (an RCPT block, its policy_context padded) | exim (an rcpt line with a padded unknown name)
// MODE: engine (what the daemon keeps) | over-cache (what the Redis store's cache of keys over a limit keeps,
//       limits/over-cache.ts) | slices (the parsed senders kept as they are: the control, which shows what
//       a kept slice can cost on this runtime)
import { parseConfig } from "../../src/config/load.ts";
import { createLimitEngine } from "../../src/limits/limit-engine.ts";
import { bareMemoryStore } from "./bare-memory-store.ts";
import { createOverCache } from "../../src/limits/over-cache.ts";
import { overProbe } from "./over-probe.ts";
import { parsePostfixRequest } from "../../src/protocols/postfix-policy.ts";
import { parseReadsocketRequest } from "../../src/protocols/readsocket.ts";
import type { Attributes } from "../../src/protocols/attributes.ts";
import { liveBytes } from "./live-bytes.ts";

const [form, mode] = process.argv.slice(2);
const KEYS = 4000;
const PAD = 3000; // bytes of each request the engine never reads (an Exim line is at most 4096)

const encoder = new TextEncoder();
const pad = "p".repeat(PAD);
// A real Postfix instance (test/fixtures/postfix/rcpt-request.txt) and an Exim message id are longer than
// the few characters a runtime copies when it slices.
function attributesOf(k: number): Attributes {
  const sender = `sender${k}@example.org`;
  if (form === "postfix") {
    const block = "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n" +
      `client_address=192.0.2.${k % 250}\nsender=${sender}\nrecipient=rcpt@example.net\n` +
      `instance=4cf7.6b103b15.${k.toString(16)}.0\npolicy_context=${pad}\n\n`;
    const parsed = parsePostfixRequest(encoder.encode(block));
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.request.attributes;
  }
  const line = `rcpt sender=${sender} client_address=192.0.2.${k % 250} recipient=rcpt@example.net ` +
    `instance=1tXbCd-000${k.toString(16)}-Zz x_pad=${pad}\n`;
  const parsed = parseReadsocketRequest(encoder.encode(line));
  if (parsed.kind !== "attributes") throw new Error(`not an attribute request: ${line.slice(0, 60)}`);
  return parsed.attributes;
}

const parsed = parseConfig(
  "[limit outbound]\nkey = sender\ncount = 100\ntime = 1h\n" +
    "[limit network]\nkey = client_address/24\ncount = 1000000\ntime = 1h\nalgorithm = sliding\n",
  "kept-request-heap",
  "/tmp",
);
if (!parsed.ok) throw new Error(parsed.errors.join("; "));
const now = () => 1_000_000;
const store = bareMemoryStore(now);
store.configure(parsed.config.limits, 1_000_000);
const engine = createLimitEngine(store, now, {
  crossed: () => {},
  ownAlert: () => {},
  heldIncident: () => {},
});
engine.configure(parsed.config.limits, undefined);

// A request Redis found over `outbound`, as the Redis store hands it to its cache.
const outbound = parsed.config.limits.find((limit) => limit.name === "outbound")!;
const cache = createOverCache(3_600_000, 1_000_000, now);

const slices: string[] = [];
const before = await liveBytes();
for (let k = 0; k < KEYS; k++) {
  const attributes = attributesOf(k);
  if (mode === "slices") slices.push(attributes.sender!);
  else if (mode === "over-cache") {
    const probe = overProbe(outbound, attributes.sender!, { level: 101, charge: 1 }, attributes.instance);
    cache.remember(probe, attributes.instance!, 0);
  } else engine.hit({ form: "attributes", stage: "rcpt", attributes }, () => {});
}
const after = await liveBytes();
const keys = mode === "over-cache" ? cache.size : store.keyCount();
process.stdout.write(
  `${JSON.stringify({ keys, kept: slices.length, bytesPerKey: (after - before) / KEYS })}\n`,
);
