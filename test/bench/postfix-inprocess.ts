// The Postfix listener's work per request without sockets, for docs/postfix.md ("Performance") and
// docs/decisions.md: CPU µs per request of parsing the RCPT block loadgen.c sends (Postfix 3.7's), of the
// engine's decision and Postfix's reply on parsed requests, and of both, in a daemon started in-process with
// the limits of `npm run bench` (startDaemon, no listener). The socket run (`npm run bench -- --only
// postfix`) minus these is the runtime's socket work. CPU time of this process, so a busy machine moves the
// figures less than wall time. Prints one JSON line. Run: `bun test/bench/postfix-inprocess.ts [SECONDS]`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { setImmediate } from "node:timers";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { parsePostfixRequest } from "../../src/protocols/postfix-policy.ts";
import { postfixReplyFormatter } from "../../src/protocols/postfix-reply.ts";
import type { PolicyRequest } from "../../src/policy/request.ts";

const seconds = Number(process.argv[2] ?? 2);
const KEYS = 100_000;

/** loadgen.c's postfix_request for key k (sender user<k>, client 192.0.2.<k % 250>), as bytes. */
function block(k: number): Uint8Array {
  return new TextEncoder().encode(
    "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n" +
      `client_address=192.0.2.${
        k % 250
      }\nclient_name=unknown\nclient_port=60280\nreverse_client_name=unknown\n` +
      "server_address=127.0.0.1\nserver_port=25\nhelo_name=client.example\n" +
      `sender=user${k}@example.org\nrecipient=rcpt@example.net\nrecipient_count=0\nqueue_id=\n` +
      `instance=1.${k.toString(16)}.0\nsize=0\netrn_domain=\nstress=\nsasl_method=\nsasl_username=\n` +
      "sasl_sender=\nccert_subject=\nccert_issuer=\nccert_fingerprint=\nccert_pubkey_fingerprint=\n" +
      "encryption_protocol=\nencryption_cipher=\nencryption_keysize=0\npolicy_context=\n\n",
  );
}

const cpuUs = () => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

/**
 * CPU µs per call of `step` over `seconds` (after a warm-up of a fifth of it), in batches of 10 000 with a
 * turn of the event loop after each.
 */
async function perRequest(step: (i: number) => void | Promise<void>): Promise<number> {
  const warmUntil = performance.now() + (seconds * 1000) / 5;
  for (let i = 0; performance.now() < warmUntil; i++) await step(i);
  const before = cpuUs();
  const until = performance.now() + seconds * 1000;
  let done = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 10_000; i++) await step(done + i);
    done += 10_000;
    // A turn of the event loop, as the daemon has between reads: the state journal writes what it noted
    // (without it the noted counters piled up for the whole run, a cost no daemon has).
    await new Promise((resolve) => setImmediate(resolve));
  }
  return Math.round(((cpuUs() - before) / done) * 100) / 100;
}

const dir = mkdtempSync(join(tmpdir(), "mailpolicyd-postfix-bench-"));
const parsed = parseConfig(
  `[daemon]\npolicy_socket = ${dir}/p.sock\ncontrol_socket = ${dir}/c.sock\npidfile = ${dir}/pid\n` +
    `state_file = ${dir}/state.json\npolicy_listen = none\nlog_level = warn\n` +
    `[thresholds]\ntime = 3600\ncount = 20\n[limit outbound]\nkey = sender\ncount = 100\ntime = 1h\n` +
    `[limit network]\nkey = client_address/24\ncount = 1000000\ntime = 1h\nalgorithm = sliding\n`,
  "bench",
  dir,
);
if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
const daemon = startDaemon({ config: parsed.config, log: createLogger("warn", () => {}) });
const format = postfixReplyFormatter({
  accept: "DUNNO",
  defer: "DEFER_IF_PERMIT",
  reject: "REJECT",
  warn: "WARN",
  headers: "PREPEND",
}, true);
const hot = block(0);
const uniform = Array.from({ length: KEYS }, (_, k) => block(k));
const request = (bytes: Uint8Array): PolicyRequest => {
  const result = parsePostfixRequest(bytes);
  if (!result.ok || result.request.stage === undefined) throw new Error("bench block refused");
  return { form: "attributes", stage: result.request.stage, attributes: result.request.attributes };
};
const hotRequest = request(hot);
const uniformRequests = uniform.map(request);
// The engine answers at once (the limits are in-process): the reply is there when decide returns.
const decide = (policyRequest: PolicyRequest) =>
  daemon.engine.decide(policyRequest, (decision) => format(decision, policyRequest));
try {
  const figures = {
    parse_us: await perRequest((i) => void request(uniform[i % KEYS])),
    hot: {
      decide_us: await perRequest(() => decide(hotRequest)),
      parse_decide_us: await perRequest(() => decide(request(hot))),
    },
    uniform: {
      decide_us: await perRequest((i) => decide(uniformRequests[i % KEYS])),
      parse_decide_us: await perRequest((i) => decide(request(uniform[i % KEYS]))),
    },
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} finally {
  daemon.stop();
  rmSync(dir, { recursive: true, force: true });
}
