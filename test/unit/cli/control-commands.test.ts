// The client commands in process, against the control API served on a real Unix socket: show and reset
// send any key intact (the query, not a path segment that URL parsing folds), and an answer that is not
// mailpolicyd's ends a command with exit 2 and what came back, never a stack trace.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ClientOptions, runClientCommand, senderPath } from "../../../src/cli/control-commands.ts";
import type { ClientCommand } from "../../../src/cli/help.ts";
import { createControlApp } from "../../../src/control/app.ts";
import { createMetrics } from "../../../src/control/metrics.ts";
import { type RunningServer, serveHttp } from "../../../src/control/serve.ts";
import { createLogger } from "../../../src/log.ts";
import { keyedCounters } from "../../helpers/keyed-counters.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const KEYS = [".", "..", "a/../b", "%41", "%2e%2e", "a+b@example.org", "x y@example.org", "ünï", "/", "?&=#"];

/** Runs a client command with stdout and stderr caught: its exit code and what it wrote. */
async function client(command: ClientCommand, socket: string, args: string[] = [], json = false) {
  const written = { stdout: "", stderr: "" };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = ((text: string) => (written.stdout += text, true)) as typeof process.stdout.write;
  process.stderr.write = ((text: string) => (written.stderr += text, true)) as typeof process.stderr.write;
  const options: ClientOptions = { config: "/nonexistent/mailpolicyd.conf", socket, json, args };
  try {
    return { code: await runClientCommand(command, options), ...written };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
}

describe("senderPath", () => {
  it("puts the key in the query, where URL parsing gives it back as it was", () => {
    for (const key of [...KEYS, "", "%", "%zz", "a\tb", "192.0.2.0/24", "😀@example.org"]) {
      const url = new URL(senderPath(key), "http://localhost");
      assert.equal(url.pathname, "/sender", key);
      assert.deepEqual([...url.searchParams.getAll("key")], [key], key);
    }
  });

  it("(why not a path segment: URL parsing folds `.`, `..` and their %2E spellings away)", () => {
    const origin = "http://localhost";
    for (const segment of ["..", "%2E%2E", ".%2e", "%2e."]) {
      assert.equal(new URL(`/senders/${segment}`, origin).pathname, "/", segment);
    }
    assert.equal(new URL("/senders/%2E", origin).pathname, "/senders/");
  });
});

describe("show and reset against the control API on a Unix socket", () => {
  const dir = makeTempDir("mpd-cli-keys-");
  const socket = dir.file("control.sock");
  const decoys = ["", "b", "a", "a b@example.org"]; // where a folded, decoded-twice or `+`-read key lands
  const counters = keyedCounters([...KEYS, ...decoys]);
  let server: RunningServer;
  before(async () => {
    const app = createControlApp({
      version: "0.0.0",
      configFile: () => "/nonexistent/mailpolicyd.conf",
      ruleNames: () => [],
      metrics: createMetrics(Date.now()),
      actorStates: () => ({}),
      actorRestarts: () => ({}),
      concernHealth: () => ({}),
      askCounters: counters.askCounters,
      reload: () => ({ ok: true }),
    });
    server = await serveHttp(
      { unix: socket },
      (request) => app.fetch(request),
      createLogger("error", () => {}),
    );
  });
  after(() => {
    server.stop();
    dir.remove();
  });

  it("show KEY prints that key's counter, for keys such as `.`, `..`, `a/../b` and `%41`", async () => {
    for (const key of KEYS) {
      const shown = await client("show", socket, [key]);
      assert.equal(shown.stderr, "", key);
      assert.equal(shown.code, 0, key);
      const { rule, count } = counters.detail(key);
      assert.ok(shown.stdout.startsWith(`${key}\n\n  rule ${rule}: ${count}/2 per 1h`), shown.stdout);

      const json = await client("show", socket, [key], true);
      assert.deepEqual(JSON.parse(json.stdout), { key, limits: [counters.detail(key)] });
    }
  });

  it("reset KEY resets that key's counter and no other; again, no counter: exit 1", async () => {
    for (const key of KEYS) {
      assert.deepEqual(await client("reset", socket, [key]), {
        code: 0,
        stdout: `${key}: counters reset in 1 limit(s)\n`,
        stderr: "",
      });
    }
    assert.deepEqual(counters.keys(), decoys);
    assert.deepEqual(await client("reset", socket, [".."]), {
      code: 1,
      stdout: "",
      stderr: "mailpolicyd: no counter for ..\n",
    });
  });
});

describe("an answer that is not mailpolicyd's", () => {
  const dir = makeTempDir("mpd-cli-other-");
  const socket = dir.file("other.sock");
  let answer = () => new Response("<html>a web server</html>", { headers: { "content-type": "text/html" } });
  let server: RunningServer;
  before(async () => {
    server = await serveHttp({ unix: socket }, () => answer(), createLogger("error", () => {}));
  });
  after(() => {
    server.stop();
    dir.remove();
  });

  const commands: [ClientCommand, string[], boolean][] = [
    ["status", [], false],
    ["status", [], true],
    ["top", [], false],
    ["top", [], true],
    ["show", ["a@example.org"], false],
    ["show", ["a@example.org"], true],
    ["reset", ["a@example.org"], false],
    ["reload", [], false],
  ];

  it("200 with HTML: every command exits 2 saying so, and prints nothing on stdout", async () => {
    for (const [command, args, json] of commands) {
      assert.deepEqual(await client(command, socket, args, json), {
        code: 2,
        stdout: "",
        stderr:
          `mailpolicyd: the answer on ${socket} is not mailpolicyd's (not JSON): <html>a web server</html>\n`,
      }, `${command} ${json ? "--json" : ""}`);
    }
  });

  it("200 with JSON of another shape: exit 2 too, not a TypeError from the formatting", async () => {
    for (const body of ['{"hello":"world"}', "null", "[1]", '"text"', '{"limits":3,"reset":"1"}']) {
      answer = () => new Response(body, { headers: { "content-type": "application/json" } });
      for (const [command, args, json] of commands) {
        if (command === "top" && body === "[1]") continue; // an array is what /senders sends
        assert.deepEqual(await client(command, socket, args, json), {
          code: 2,
          stdout: "",
          stderr:
            `mailpolicyd: the answer on ${socket} is not mailpolicyd's (not the JSON it sends): ${body}\n`,
        }, `${command} ${json ? "--json" : ""}: ${body}`);
      }
    }
  });

  // Their shape checks look at the top of the answer: these passed them, and the formatting threw a
  // TypeError (or a RangeError for a time that is none) with its stack trace.
  it("200 with JSON of the right shape outside, another inside: exit 2 too, not a stack trace", async () => {
    const status = {
      version: "1",
      actors: {},
      restarts: {},
      rates: { lastMinute: 0, last5Minutes: 0 },
      requests: { total: 0, byAction: {} },
      alerts: { sent: 0, failed: 0, recent: [] },
      topSenders: [],
    };
    const answers: [ClientCommand, string[], unknown][] = [
      ["top", [], [1]],
      ["top", [], [{ key: 1, rule: "r" }]],
      ["show", ["a@example.org"], { limits: [1] }],
      ["show", ["a@example.org"], { limits: [{ key: "a", subjects: [[1, 1]], clientIps: [] }] }],
      ["status", [], { ...status, rates: {} }],
      ["status", [], { ...status, topSenders: [1] }],
      ["status", [], { ...status, alerts: { sent: 0, failed: 0, recent: [{ at: "never" }] } }],
      ["status", [], { ...status, concerns: { limits: { state: "failing", reason: "x" } } }],
    ];
    for (const [command, args, json] of answers) {
      const body = JSON.stringify(json);
      answer = () => new Response(body, { headers: { "content-type": "application/json" } });
      assert.deepEqual(await client(command, socket, args), {
        code: 2,
        stdout: "",
        stderr: `mailpolicyd: the answer on ${socket} is not mailpolicyd's (not the JSON it sends): ${
          body.slice(0, 60)
        }\n`,
      }, `${command}: ${body}`);
    }
  });

  it("an error status with a body that is not JSON: exit 1 with the body (reload: exit 2)", async () => {
    answer = () => new Response("Internal Server Error", { status: 500 });
    for (const [command, args, json] of commands) {
      const result = await client(command, socket, args, json);
      const expected = command === "reload"
        ? `mailpolicyd: the answer on ${socket} is not mailpolicyd's (not JSON): Internal Server Error\n`
        : "mailpolicyd: Internal Server Error\n";
      assert.deepEqual(result, { code: command === "reload" ? 2 : 1, stdout: "", stderr: expected }, command);
    }
  });

  // The daemon's answer to a reset while the state file is still being restored (control/app.ts): done,
  // though no counter was in memory yet. "counters reset in 0 limit(s)" would read as nothing done.
  it("reset while the state file is restored: says the key's counters will not come back, exit 0", async () => {
    const body = '{"key":"a@example.org","reset":0,"restoring":true}';
    answer = () => new Response(body, { headers: { "content-type": "application/json" } });
    assert.deepEqual(await client("reset", socket, ["a@example.org"]), {
      code: 0,
      stdout:
        "a@example.org: reset; the state file is still being restored after a start, and its counters " +
        "of this key will not come back\n",
      stderr: "",
    });
  });

  it("a refused reload of another shape: exit 2, not its `errors` printed one character a line", async () => {
    for (const body of ['{"errors":"bad config"}', '{"errors":[1,2]}', '{"error":{"x":1}}', "{}"]) {
      answer = () => new Response(body, { status: 400, headers: { "content-type": "application/json" } });
      assert.deepEqual(await client("reload", socket, [], false), {
        code: 2,
        stdout: "",
        stderr:
          `mailpolicyd: the answer on ${socket} is not mailpolicyd's (not the JSON it sends): ${body}\n`,
      }, body);
    }
  });

  it("a refused reload as mailpolicyd sends it: exit 1 with each error", async () => {
    for (
      const [body, lines] of [
        ['{"errors":["a.conf:3: bad","a.conf:9: worse"]}', ["a.conf:3: bad", "a.conf:9: worse"]],
        ['{"error":"too many requests on this listener; try again in a second"}', [
          "too many requests on this listener; try again in a second",
        ]],
      ] as const
    ) {
      answer = () => new Response(body, { status: 400, headers: { "content-type": "application/json" } });
      const expected = [...lines, "reload refused: the running config stays"].map((line) =>
        `mailpolicyd: ${line}\n`
      );
      assert.deepEqual(await client("reload", socket, [], false), {
        code: 1,
        stdout: "",
        stderr: expected.join(""),
      });
    }
  });

  it("an error status whose `error` is not text: the body as it is", async () => {
    answer = () => new Response('{"error":{"code":7}}', { status: 500 });
    assert.deepEqual(await client("status", socket, [], false), {
      code: 1,
      stdout: "",
      stderr: 'mailpolicyd: {"error":{"code":7}}\n',
    });
  });
});
