// The content concern in a running daemon: the engine the listeners ask scans "message" requests (what
// the spamd front sends) with the [rule NAME] sections, leaves the other forms to the limits, and a
// reload that drops [content] stops it. Over a real socket once the spamd front is merged (issue 19).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import type { Decision } from "../../src/model/answer.ts";
import type { PolicyRequest } from "../../src/policy/request.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { CLEAN_MESSAGES, EXECUTABLE_MESSAGES } from "../helpers/content-corpus.ts";
import { messageRequest, RULES } from "../helpers/content-policy.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("the content concern in the daemon", () => {
  let dir: TempDir;
  let daemon: Daemon;
  const lines: string[] = [];
  const configText = (content: string) =>
    `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npolicy_listen = none\n` +
    `pidfile = d.pid\nstate_file = state.json\n[thresholds]\ncount = 1\ntime = 1h\n${content}`;
  const decide = (request: PolicyRequest) =>
    new Promise<Decision>((resolve) => daemon.engine.decide(request, resolve));

  before(async () => {
    dir = makeTempDir();
    const parsed = parseConfig(configText(RULES), "test.conf", dir.path);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("policy: listening")), 5000, "listener");
  });
  after(() => {
    daemon?.stop();
    dir?.remove();
  });

  it("rejects a message with an executable, with its score and symbol", async () => {
    const decision = await decide(messageRequest(EXECUTABLE_MESSAGES["zip in a zip"].message));
    assert.equal(decision.action, "reject");
    assert.equal(decision.score, 10);
    assert.deepEqual(decision.tags, ["content:EXE"]);
    assert.match(decision.symbols![0].description!, /payload\.js \(in outer\.zip\/inner\.zip\)/);
  });

  it("accepts a clean message with score 0; counts nothing for the limits", async () => {
    for (let i = 0; i < 3; i++) {
      const decision = await decide(messageRequest(CLEAN_MESSAGES["a PNG that is a PNG"]));
      assert.deepEqual(decision, { action: "accept", score: 0 });
    }
    // count = 1: had the messages been counted, this first attribute request would be over.
    const limits = await decide({
      form: "attributes",
      stage: "rcpt",
      attributes: { sender: "sender@example.org", recipient: "b@example.net" },
    });
    assert.equal(limits.action, "accept");
    assert.equal(limits.tags, undefined);
  });

  it("has a health entry; a reload without [content] stops the scans", async () => {
    const health = daemon.engine.health().content;
    assert.equal(health.state, "ok");
    assert.equal(health.answered, 4);
    const parsed = parseConfig(configText(""), "test.conf", dir.path);
    assert.ok(parsed.ok);
    daemon.reload(parsed.config);
    const decision = await decide(messageRequest(EXECUTABLE_MESSAGES["exe, base64"].message));
    assert.equal(decision.action, "accept");
    assert.equal(decision.symbols, undefined);
  });
});
