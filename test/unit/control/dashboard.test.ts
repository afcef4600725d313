// The dashboard's script run against a stub page and a /status answer: its header and top senders show
// the numbers `mailpolicyd status` shows (uptime text, rate, count/limit per window as written).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import vm from "node:vm";
import { DASHBOARD_HTML } from "../../../src/control/dashboard.ts";

const STATUS = {
  version: "0.1.0",
  uptimeSeconds: 7500,
  uptime: "2h 5m",
  config: "/etc/mailpolicyd/mailpolicyd.conf",
  requests: { total: 39 },
  rates: { lastMinute: 39, last5Minutes: 7.8 },
  trackedKeys: 1,
  actors: { counters: "active" },
  topSenders: [{
    key: "alice@example.org",
    rule: "out",
    count: 5,
    limit: 5,
    window: "90m",
    over: false,
    atLimit: true,
  }],
  alerts: {
    recent: [
      { at: 0, key: "alice@example.org", rule: "out", count: 5, limit: 5, status: "sent" },
      { at: 0, key: "bob@example.org", rule: "out", count: 5, limit: 5, status: "failed" },
    ],
  },
  minutes: [],
};

async function render(
  status: unknown = STATUS,
  answer = { ok: true, status: 200 },
): Promise<Record<string, { textContent: string; innerHTML: string }>> {
  const script = /<script>([\s\S]*)<\/script>/.exec(DASHBOARD_HTML)![1];
  const elements: Record<string, { textContent: string; innerHTML: string }> = {};
  const element = (id: string) => elements[id] ??= { textContent: "", innerHTML: "" };
  let fetched!: () => void;
  const done = new Promise<void>((resolve) => fetched = resolve);
  const context = {
    document: { getElementById: element, querySelector: element },
    fetch: () =>
      Promise.resolve({ ...answer, json: () => (setTimeout(fetched, 0), Promise.resolve(status)) }),
    setInterval: () => 0,
    Date,
    Math,
    Map,
    String,
    Object,
  };
  vm.runInNewContext(script, context);
  await done;
  return elements;
}

describe("dashboard script", () => {
  it("shows uptime and rate from /status, and count / limit per window as written", async () => {
    const page = await render();
    assert.equal(page.error.textContent, "");
    assert.match(page.meta.textContent, / · up 2h 5m · 39 requests \(39\.0\/min\) · /);
    assert.match(page["#senders tbody"].innerHTML, /<td>5 \/ 5 per 90m<\/td>/);
    assert.match(page["#senders tbody"].innerHTML, /class="bar over"/, "at limit is drawn red");
    assert.match(page["#alerts tbody"].innerHTML, /<td>5 \/ 5<\/td>/);
  });

  it("says a failed alert is retried, not given up", async () => {
    const rows = (await render())["#alerts tbody"].innerHTML.split("</tr>");
    assert.match(rows[0], /alice@example\.org.*<td>sent<\/td>$/);
    // Before: "<td>failed</td>", read at 3 a.m. as given up.
    assert.match(rows[1], /bob@example\.org.*<td>failed, retrying<\/td>$/);
  });

  // A bidi control in a key turned it round in the page: "\u202egro.elpmaxe@nimda" read "admin@example.org";
  // a zero-width space drew nothing: "admin\u200b@example.org", another account, read as the real one.
  it("shows a key's control and format characters as \\uNNNN text, and its markup as text", async () => {
    for (
      const [key, shown] of [
        [
          "\u202egro.elpmaxe@nimda\u2066<script>x</script>\x1b",
          "\\u202egro.elpmaxe@nimda\\u2066&lt;script&gt;x&lt;/script&gt;\\u001b",
        ],
        ["admin\u200b\u00ad\ufeff@example.org\u{e0041}", "admin\\u200b\\u00ad\\ufeff@example.org\\u{e0041}"],
        ["admin\u3164@example.org\ufe0f\u2800", "admin\\u3164@example.org\\ufe0f\\u2800"],
      ]
    ) {
      const page = await render({
        ...STATUS,
        topSenders: [{ ...STATUS.topSenders[0], key }],
        alerts: { recent: [{ ...STATUS.alerts.recent[0], key }] },
      });
      for (const table of ["#senders tbody", "#alerts tbody"]) {
        assert.ok(page[table].innerHTML.includes(`<td class=mono>${shown}</td>`), page[table].innerHTML);
        // deno-lint-ignore no-control-regex
        assert.doesNotMatch(page[table].innerHTML, /[\x00-\x1f]|\p{Cf}/u);
      }
    }
  });

  // With [redis] and Redis away, /status's top senders are what this host counted meanwhile: drawn without a
  // word, one host's count of a sender read as its count on every host (status says so in a line). As
  // /status says it (topSendersThisHostOnly), also when Redis came back while they were asked for.
  it("says the top senders are this host's counts only while Redis is away", async () => {
    for (const state of ["down", "up"]) {
      const page = await render({ ...STATUS, redis: { state, since: 0 }, topSendersThisHostOnly: true });
      assert.equal(page.scope?.textContent, "Redis unreachable: this host's counts only", state);
      assert.match(page["#senders tbody"].innerHTML, /alice@example\.org/);
    }
    const page = await render({ ...STATUS, redis: { state: "down", since: 0 } });
    assert.match(page.meta.textContent, / · 1 keys tracked on this host · /);
  });

  it("says nothing of the kind with Redis up, nor without [redis]", async () => {
    for (const redis of [{ state: "up", since: 0 }, undefined]) {
      const page = await render({ ...STATUS, redis });
      assert.equal(page.scope?.textContent ?? "", "", JSON.stringify(redis));
      assert.match(page["#senders tbody"].innerHTML, /alice@example\.org/);
    }
  });

  // Redis (or the counters actor) did not answer: /status's topSenders is null, and the table read "nobody
  // yet", a quiet mail host, while Redis may have held senders over their limits.
  it("says why top senders are missing, not 'nobody yet'", async () => {
    for (const why of ["the shared counters in Redis did not answer", "the counters actor did not answer"]) {
      const page = await render({
        ...STATUS,
        topSenders: null,
        topSendersUnavailable: why,
        redis: { state: "up", since: 0 },
      });
      assert.equal(
        page["#senders tbody"].innerHTML,
        `<tr><td colspan=4>top senders unavailable (${why})</td></tr>`,
      );
      assert.equal(page.scope?.textContent ?? "", "", "no rows: none to call this host's");
    }
  });

  // A failing concern or an unwritable state file looked green here (the actors alone) while status said so:
  // /status's warnings are status's lines of what is wrong, shown as text, a line each.
  it("shows /status's warnings as text, a line each; nothing when there are none", async () => {
    const warnings = [
      "concerns: spamassassin FAILING since 2026-01-01 10:07:03 (down), 2 requests answered by its fail_mode",
      "state file: NOT WRITTEN since 2026-01-01 10:07:03 (<b>x</b>; 1 save failed): counts since then …",
    ];
    const page = await render({ ...STATUS, warnings });
    assert.equal(
      page.warnings.innerHTML,
      "<div>concerns: spamassassin FAILING since 2026-01-01 10:07:03 (down), 2 requests answered by its " +
        "fail_mode</div><div>state file: NOT WRITTEN since 2026-01-01 10:07:03 (&lt;b&gt;x&lt;/b&gt;; 1 save " +
        "failed): counts since then …</div>",
    );
    assert.equal((await render({ ...STATUS, warnings: [] })).warnings.innerHTML, "");
  });

  // Two dashboards and a scrape on the loopback port: a 429 read as /status said "cannot reach mailpolicyd:
  // TypeError: …", as if the daemon were down.
  it("says what the daemon answered when /status is refused (429), not that it cannot be reached", async () => {
    const error = "too many requests on this listener; try again in a second";
    const page = await render({ error }, { ok: false, status: 429 });
    assert.equal(
      page.error.textContent,
      `mailpolicyd answered 429: ${error} (the figures below are from its last answer)`,
    );
  });
});
