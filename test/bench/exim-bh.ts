// What a policy lookup costs Exim per SMTP transaction (issue 15): `exim -bh` runs every ACL of a session
// fed on stdin and delivers nothing; smtp-lockstep.c drives it with lock-step MAIL / RCPT / RSET and times
// each transaction. The rows differ only in what the RCPT ACL does, chosen by the recipient's local part:
//   none          no lookup (the baseline the others are compared with)
//   unix, tcp     ${readsocket} to mailpolicyd's Unix socket / loopback TCP listener, with the request the
//                 shipped RCPT snippet sends (taken from src/exim/snippets.ts)
//   ratelimit     Exim's native `ratelimit = 20 / 1h / per_rcpt / $sender_address` (one sender, which is
//                 over its limit from the 21st transaction on: leaky mode then stops writing its record)
//   ratelimit-new the same with a new sender every transaction (every one under its limit: a write each)
//   ref-unix, ref-tcp  ${readsocket} to a reference server that only answers "no" (Bun.listen): how much of
//                 a lookup is Exim, the kernel and the runtime, and how much is mailpolicyd
// The rows take turns transaction by transaction within one session (TRANSACTIONS each), so that the
// machine's drift (other work on this 2-core VM moves a whole session's times by 2× and more) falls on all
// alike; each row is compared with the baseline of the same session, over several sessions (rounds).
// Run by `npm run bench` (test/bench/run.mjs), which starts the servers; as root (exim -C drops to
// Debian-exim, so sockets must be writable by that user and the dirs traversable).
// Usage: bun exim-bh.ts --driver PATH [--transactions N] [--rounds N] [--unix PATH] [--tcp HOST:PORT]
//                       [--ref-unix PATH] [--ref-tcp HOST:PORT] [--pin CPU]
// Prints one JSON object on stdout; progress on stderr.
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { eximSnippet } from "../../src/exim/snippets.ts";
import { EXIM, prepareEximDir, writeEximConfig } from "../helpers/exim.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const { values } = parseArgs({
  options: {
    driver: { type: "string" },
    transactions: { type: "string", default: "2000" },
    rounds: { type: "string", default: "5" },
    unix: { type: "string" },
    tcp: { type: "string" },
    "ref-unix": { type: "string" },
    "ref-tcp": { type: "string" },
    pin: { type: "string", default: "0" },
  },
});
if (!values.driver) throw new Error("--driver PATH (the compiled smtp-lockstep.c) is required");
const transactions = Number(values.transactions);
const rounds = Math.max(1, Number(values.rounds));

/** The arguments of the first `${readsocket{…}{…}…}` in text, braces balanced. */
function readsocketArguments(text: string): string[] {
  const start = text.indexOf("${readsocket");
  if (start < 0) throw new Error("no ${readsocket} in the snippet");
  const args: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = start + "${readsocket".length; i < text.length; i++) {
    if (text[i] === "{") {
      if (depth++ === 0) from = i + 1;
    } else if (text[i] === "}") {
      if (--depth === 0) args.push(text.slice(from, i));
      if (depth < 0) break; // the closing brace of ${readsocket itself
    } else if (depth === 0 && !/\s|\\/.test(text[i])) break;
  }
  return args;
}

// The request of the shipped RCPT ACL, exactly as written there (continuation lines included).
const rcptAcl = eximSnippet("plain").map((file) => file.content).join("\n");
const RCPT_REQUEST = readsocketArguments(rcptAcl.slice(rcptAcl.indexOf("acl_mailpolicyd_rcpt:")))[1];
if (!RCPT_REQUEST?.startsWith("rcpt ")) throw new Error(`unexpected RCPT request: ${RCPT_REQUEST}`);

// What the lookup sets when it gets no answer: then the row is measuring a failure, which the RCPT reply
// shows and the run refuses.
const FALLBACK = "FALLBACK";
const lookup = (address: string) =>
  `    set acl_m_mpd = \${readsocket{${address}}\\\n      {${RCPT_REQUEST}}\\\n      {2s}{}{${FALLBACK}}}\n`;
const RATELIMIT = "    ratelimit = 20 / 1h / per_rcpt / $sender_address\n";

interface Row {
  id: string; // also the recipient's local part that selects the row
  name: string;
  statements: string; // the row's conditions and modifiers of a `warn`, before the site's accept
  expect: string; // what every RCPT reply must contain
  sender?: string; // default: one sender for the whole session
}

const rows: Row[] = [{ id: "none", name: "no lookup (baseline)", statements: "", expect: "Accepted []" }];
const add = (id: string, name: string, address: string | undefined, expect: string) => {
  if (address) rows.push({ id, name, statements: lookup(address), expect });
};
add("unix", "${readsocket} to mailpolicyd, Unix socket", values.unix, "Accepted [action=accept");
add(
  "tcp",
  "${readsocket} to mailpolicyd, loopback TCP",
  values.tcp && `inet:${values.tcp}`,
  "Accepted [action=accept",
);
add("ref-unix", "${readsocket} to Bun.listen reference, Unix socket", values["ref-unix"], "Accepted [no]");
add(
  "ref-tcp",
  "${readsocket} to Bun.listen reference, TCP",
  values["ref-tcp"] && `inet:${values["ref-tcp"]}`,
  "Accepted [no]",
);
rows.push(
  { id: "ratelimit", name: "native ratelimit, one sender", statements: RATELIMIT, expect: "Accepted []" },
  {
    id: "ratelimit-new",
    name: "native ratelimit, a new sender each transaction",
    statements: RATELIMIT,
    expect: "Accepted []",
    sender: "user{i}@example.org",
  },
);

// The site's ACL of test/helpers/exim.ts after each row's statements (each guarded by the row's local
// part: a string comparison per row, the same in every row), with the lookup's answer in the 250 text so
// that every reply shows the lookup answered and not the fallback. No limit on transactions or RSETs.
const dir: TempDir = makeTempDir("mailpolicyd-bench-exim-");
prepareEximDir(dir);
const config = writeEximConfig(dir, {
  address: "unused",
  withSnippet: false,
  mainExtra: "smtp_accept_max_per_connection = 0\nsmtp_accept_max_nonmail_hosts =\n",
  siteRcptAcl: rows.map((row) =>
    row.statements && `  warn\n    condition = \${if eq{$local_part}{${row.id}}}\n${row.statements}`
  ).join("") + "  accept hosts = +relay_from_hosts\n    message = Accepted [$acl_m_mpd]\n" +
    "  deny message = relay not permitted\n",
});

interface RowSession {
  transactions: number;
  us_per_transaction: number;
  p50_us: number;
  p99_us: number;
  unexpected: number;
  first_unexpected: string;
  last_rcpt_reply: string;
}

/** One Exim session, `count` transactions of every row taking turns; the driver (and Exim) on `--pin`. */
function session(count: number): RowSession[] {
  const driver = values.pin ? ["taskset", "-c", values.pin, values.driver!] : [values.driver!];
  const result: { rows: RowSession[] } = JSON.parse(execFileSync(driver[0], [
    ...driver.slice(1),
    String(count),
    ...rows.flatMap((row) => [row.sender ?? "alice@example.org", `${row.id}@remote.example`, row.expect]),
    ...["--", EXIM, "-C", config, "-bh", "192.0.2.10"],
  ], { encoding: "utf8" }));
  result.rows.forEach((own, i) => {
    if (own.unexpected > 0 || own.transactions !== count) {
      throw new Error(
        `${rows[i].name}: ${own.unexpected} unexpected replies, first: ${own.first_unexpected}`,
      );
    }
  });
  return result.rows;
}

const median = (numbers: number[]) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const tenth = (n: number) => Math.round(n * 10) / 10;

try {
  // Warm-up, not counted: the daemon's request path compiled, the ratelimit database created, Exim's
  // binary and libraries in the page cache.
  session(Math.min(100, transactions));
  const sessions = rows.map((): RowSession[] => []);
  for (let round = 0; round < rounds; round++) {
    session(transactions).forEach((own, i) => sessions[i].push(own));
    process.stderr.write(
      `exim -bh round ${round + 1}/${rounds}: ` +
        rows.map((row, i) => `${row.id} ${sessions[i][round].us_per_transaction}`).join(", ") +
        " µs per transaction\n",
    );
  }
  const [baseline] = sessions;
  const results = rows.map((row, i) => {
    const own = sessions[i];
    const us = own.map((s) => s.us_per_transaction);
    const added = us.map((value, round) => tenth(value - baseline[round].us_per_transaction));
    return {
      id: row.id,
      name: row.name,
      us_per_transaction: us,
      median_us: tenth(median(us)),
      added_us: added,
      median_added_us: tenth(median(added)),
      median_added_p50_us: median(own.map((s, round) => s.p50_us - baseline[round].p50_us)),
      median_p50_us: median(own.map((s) => s.p50_us)),
      median_p99_us: median(own.map((s) => s.p99_us)),
      rcpt_reply: own[0].last_rcpt_reply,
    };
  });
  const request = RCPT_REQUEST.replace(/\\\n\s*/g, "");
  process.stdout.write(JSON.stringify({ transactions, rounds, request, rows: results }) + "\n");
} finally {
  dir.remove();
}
