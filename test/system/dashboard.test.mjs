// The dashboard in a real headless Chromium (Debian's, driven by playwright-core), served by the compiled
// executable (built into a folder of its own) on loopback TCP: the top sender appears with its count over
// the limit, the chart has bars, the actors are healthy. Writes test-output/dashboard.png for people to look
// at. With [redis] on a real redis-server, stopped and then killed: the page says why top senders are
// missing, and that the ones it shows are this host's counts only. With spamd not listening and the state
// file unwritable: the page says so as status does (test-output/dashboard-warnings.png).
// Runs under Node (`node --test`), once, from `npm test`'s system phase, beside the package test.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../..", import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// Senders as a client may send them: markup, an end of script, entities, and one longer than any line.
const HOSTILE_SENDERS = [
  '"<img src=x onerror=window.__pwned=1>"@example.org',
  '"</script><script>window.__pwned=2</script>"@example.org',
  '"&lt;b&gt;&amp;"@example.org',
  `${"l".repeat(240)}@example.org`,
];

// Once for the file: each describe starts its own daemon from it. `npm run build` with an outfile of its
// own, not dist/mailpolicyd: `npm test` runs this file beside the package test, whose build-deb writes and
// packs dist/mailpolicyd meanwhile.
let executable;
function build() {
  if (executable) return executable;
  const folder = mkdtempSync(join(tmpdir(), "mailpolicyd-dashboard-build-"));
  process.on("exit", () => rmSync(folder, { recursive: true, force: true }));
  executable = join(folder, "mailpolicyd");
  execFileSync("npm", ["run", "--silent", "build", "--", "--outfile", executable], {
    cwd: root,
    stdio: "ignore",
  });
  return executable;
}

function launchBrowser() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

function ask(path, line) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path, allowHalfOpen: true });
    let reply = "";
    socket.on("connect", () => socket.end(line));
    socket.on("data", (chunk) => reply += chunk);
    socket.on("end", () => resolve(reply));
    socket.on("error", reject);
  });
}

/**
 * The compiled executable with its sockets in dir, the control API on a free loopback port, the limit
 * outbound (2 an hour, strict) and the sections given; resolves once its policy socket answers.
 */
async function startDaemon(dir, sections = "") {
  const port = await freePort();
  const config = join(dir, "mailpolicyd.conf");
  writeFileSync(
    config,
    // policy_listen on a port of its own: the package test's installed daemon has the default's.
    `[daemon]\npolicy_socket = ${dir}/policy.sock\npolicy_listen = 127.0.0.1:0\n` +
      `control_socket = ${dir}/control.sock\n` +
      `control_listen = 127.0.0.1:${port}\npidfile = ${dir}/pid\nstate_file = ${dir}/state.json\n` +
      `${sections}[limit outbound]\nkey = sender\ncount = 2\ntime = 1h\nmode = strict\n`,
  );
  const daemon = spawn(build(), ["run", "--config", config], { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    try {
      await ask(join(dir, "policy.sock"), "connect client_address=127.0.0.1\n");
      break;
    } catch {
      await sleep(50);
    }
  }
  return { daemon, port };
}

/** What each describe's after does: the browser closed, the daemon stopped, its folder removed. */
async function tearDown(browser, daemon, dir) {
  await browser?.close();
  daemon?.kill("SIGTERM");
  await sleep(300);
  if (dir) rmSync(dir, { recursive: true, force: true });
}

describe("dashboard in headless Chromium", () => {
  let dir;
  let daemon;
  let browser;
  let port;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "mailpolicyd-dashboard-"));
    ({ daemon, port } = await startDaemon(dir));
    for (let i = 0; i < 5; i++) {
      await ask(
        join(dir, "policy.sock"),
        `rcpt sender=bulk@example.org recipient=r${i}@example.net client_address=192.0.2.7\n`,
      );
    }
    await ask(join(dir, "policy.sock"), "rcpt sender=quiet@example.org recipient=x@example.net\n");
    // With SMTPUTF8 a sender may hold a bidi control: drawn as it came, this key read "admin@example.org".
    await ask(join(dir, "policy.sock"), "rcpt sender=\u202egro.elpmaxe@nimda recipient=x@example.net\n");
    // A zero-width space, a soft hyphen and a tag character draw nothing: another account, read as admin's.
    await ask(
      join(dir, "policy.sock"),
      "rcpt sender=admin\u200b\u00ad@example.org\u{e0041} recipient=x@example.net\n",
    );
    for (const sender of HOSTILE_SENDERS) {
      const quoted = sender.replace(/[\\"]/g, (c) => `\\${c}`);
      await ask(join(dir, "policy.sock"), `rcpt sender="${quoted}" recipient=x@example.net\n`);
    }
    browser = await launchBrowser();
  });

  after(() => tearDown(browser, daemon, dir));

  it("shows the top sender over its limit, a chart and healthy actors", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    const row = page.locator("#senders tbody tr").first();
    await row.waitFor({ timeout: 10_000 });
    assert.match(await row.innerText(), /bulk@example\.org\s+outbound\s+5 \/ 2 per 1h/);
    assert.equal(await row.locator(".bar.over").count(), 1, "the bar is drawn as over the limit");
    assert.match(await page.locator("#senders tbody").innerText(), /quiet@example\.org/);
    assert.ok((await page.locator("#chart rect").count()) > 0, "requests per minute drawn");
    assert.equal(await page.locator("#actors .badge.active").count(), 4);
    assert.match(await page.locator("#meta").innerText(), /version \d+\.\d+\.\d+ · up/);
    assert.match(
      await page.locator("#alerts tbody").innerText(),
      /bulk@example\.org\s+outbound\s+3 \/ 2\s+logged/,
    );
    mkdirSync(join(root, "test-output"), { recursive: true });
    await page.screenshot({ path: join(root, "test-output/dashboard.png"), fullPage: true });
  });

  it("shows a key's bidi control and invisible format characters as \\uNNNN text", async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    const senders = page.locator("#senders tbody");
    await senders.locator("tr").first().waitFor({ timeout: 10_000 });
    const shown = await senders.innerText();
    assert.match(shown, /\\u202egro\.elpmaxe@nimda/, shown);
    assert.match(shown, /admin\\u200b\\u00ad@example\.org\\u\{e0041\}/, shown);
    // The bidi controls are format characters (Cf) too.
    assert.doesNotMatch(shown, /\p{Cf}/u, JSON.stringify(shown));
  });

  // Each key is a sender's address, chosen by whoever sends: markup in it must stay text, and were it ever
  // drawn as markup, the page's Content-Security-Policy must keep it from running (no inline handler, no
  // script but the page's own). A long key must not widen the page past the window.
  it("draws hostile keys as text: nothing of theirs runs, the page keeps its width", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const response = await page.goto(`http://127.0.0.1:${port}/`);
    const headers = response.headers();
    assert.match(headers["content-security-policy"] ?? "", /(^|; )script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    assert.match(headers["content-security-policy"], /(^|; )default-src 'none'(;|$)/);
    assert.equal(headers["x-content-type-options"], "nosniff");
    const status = await fetch(`http://127.0.0.1:${port}/status`);
    assert.equal(status.headers.get("x-content-type-options"), "nosniff", "the JSON endpoints too");
    const senders = page.locator("#senders tbody");
    await senders.locator("tr").first().waitFor({ timeout: 10_000 });
    const shown = await senders.innerText();
    assert.ok(shown.includes('"<img src=x onerror=window.__pwned=1>"@example.org'), shown);
    assert.ok(shown.includes("</script><script>window.__pwned=2</script>"), shown);
    assert.equal(await page.locator("#senders img, #senders script").count(), 0);
    // Markup that got past the escaping: the policy refuses its inline handler (and its image).
    const outcome = await page.evaluate(() =>
      new Promise((resolve) => {
        document.addEventListener("securitypolicyviolation", (event) => resolve(event.violatedDirective));
        const poll = setInterval(
          () => globalThis.__pwned !== undefined && (clearInterval(poll), resolve("ran")),
          10,
        );
        const cell = document.createElement("div");
        cell.innerHTML = '<img src=x onerror="window.__pwned=3">';
        document.body.append(cell);
      })
    );
    assert.notEqual(outcome, "ran", "the injected handler ran");
    assert.equal(await page.evaluate(() => globalThis.__pwned), undefined);
    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= globalThis.innerWidth),
      "a long key wraps inside its cell",
    );
    assert.equal(await page.locator("#error").innerText(), "");
    assert.ok((await page.locator("#chart rect").count()) > 0, "the page's own script ran");
    await page.close();
  });

  // `ssh -L 8080:127.0.0.1:PORT mailhost`, then http://localhost:8080/: the browser's Host names the tunnel's
  // port, and the page answered 421. A TCP relay on another port stands in for the tunnel.
  it("works through a tunnel from another port (Host: localhost:OTHER)", async () => {
    const relay = net.createServer((client) => {
      const upstream = net.connect(port, "127.0.0.1");
      client.pipe(upstream).pipe(client);
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    });
    await new Promise((resolve) => relay.listen(0, "127.0.0.1", resolve));
    try {
      const page = await browser.newPage();
      const response = await page.goto(`http://localhost:${relay.address().port}/`);
      assert.equal(response.status(), 200, await response.text());
      await page.locator("#senders tbody tr").first().waitFor({ timeout: 10_000 });
      assert.match(await page.locator("#senders tbody").innerText(), /bulk@example\.org/);
      assert.equal(await page.locator("#error").innerText(), "");
    } finally {
      relay.close();
    }
  });
});

/** Debian's redis-server on a free loopback port, nothing saved (as test/helpers/redis-server.ts starts it). */
async function startRedis(dir) {
  const port = await freePort();
  const child = spawn("/usr/bin/redis-server", [
    ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    ...["--dir", dir, "--daemonize", "no", "--logfile", ""],
  ], { stdio: "ignore" });
  const pong = () =>
    new Promise((resolve) => {
      const socket = net.createConnection({ host: "127.0.0.1", port });
      socket.on("connect", () => socket.write("PING\r\n"));
      socket.on("data", (chunk) => (socket.destroy(), resolve(String(chunk).startsWith("+PONG"))));
      socket.on("error", () => resolve(false));
    });
  for (let i = 0; i < 400 && child.exitCode === null; i++) {
    if (await pong()) return { port, child, signal: (name) => process.kill(child.pid, name) };
    await sleep(50);
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server did not answer on 127.0.0.1:${port}`);
}

// With [redis] the top senders are Redis's, every host's. While Redis is away the shared store answers them
// from what this host counted meanwhile (limits/shared-store.ts), and /status none at all when Redis did not
// answer: the page drew the first without a word (one host's counts read as every host's), and the second as
// "nobody yet", a quiet mail host.
describe("dashboard in headless Chromium, with Redis away", () => {
  let dir;
  let redis;
  let daemon;
  let browser;
  let port;
  const HOST_ONLY = "Redis unreachable: this host's counts only";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "mailpolicyd-dashboard-redis-"));
    redis = await startRedis(dir);
    ({ daemon, port } = await startDaemon(
      dir,
      `[redis]\nurl = redis://127.0.0.1:${redis.port}\ntimeout = 1s\n`,
    ));
    for (let i = 0; i < 3; i++) {
      await ask(join(dir, "policy.sock"), `rcpt sender=shared@example.org recipient=r${i}@example.net\n`);
    }
    browser = await launchBrowser();
  });

  after(async () => {
    if (redis?.child.exitCode === null && redis.child.signalCode === null) redis.signal("SIGKILL");
    await tearDown(browser, daemon, dir);
  });

  /** The Top senders section's text once the page has drawn its first /status. */
  async function topSenders() {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.locator("#senders tbody tr").first().waitFor({ timeout: 10_000 });
    const shown = await page.locator("section", { has: page.locator("#senders") }).innerText();
    await page.close();
    return shown;
  }

  it("with Redis up: Redis's top senders, and no word of this host's", async () => {
    const shown = await topSenders();
    assert.match(shown, /shared@example\.org\s+outbound\s+3 \/ 2 per 1h/, shown);
    assert.ok(!shown.includes(HOST_ONLY), shown);
  });

  it("with Redis not answering (stopped): says why top senders are missing, not 'nobody yet'", async () => {
    redis.signal("SIGSTOP");
    try {
      const shown = await topSenders();
      assert.match(shown, /top senders unavailable \(the shared counters in Redis did not answer\)/, shown);
      assert.ok(!shown.includes("nobody yet"), shown);
    } finally {
      redis.signal("SIGCONT");
    }
  });

  it("with Redis killed: says the top senders are this host's counts only", async () => {
    redis.signal("SIGKILL");
    // Counted here by the fallback ([redis] fallback = local); then the incident is on (/health's redis).
    await ask(join(dir, "policy.sock"), "rcpt sender=here@example.org recipient=x@example.net\n");
    for (let i = 0;; i++) {
      const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
      if (health.redis?.state === "down") break;
      if (i === 100) throw new Error(`Redis not seen away: ${JSON.stringify(health.redis)}`);
      await sleep(100);
    }
    const shown = await topSenders();
    assert.match(shown, /here@example\.org\s+outbound\s+1 \/ 2 per 1h/, shown);
    assert.ok(shown.includes(HOST_ONLY), shown);
  });
});

/** The spamd front's answer to one message (spamc's REPORT), read to its end. */
function spamc(port, message) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: "127.0.0.1", port, allowHalfOpen: true });
    let reply = "";
    socket.on("connect", () => {
      socket.end(
        `REPORT SPAMC/1.2\r\nUser: nobody\r\nContent-length: ${Buffer.byteLength(message)}\r\n\r\n` + message,
      );
    });
    socket.on("data", (chunk) => reply += chunk);
    socket.on("end", () => resolve(reply));
    socket.on("error", reject);
  });
}

// `mailpolicyd status` says when a concern fails (here SpamAssassin, spamd not listening) and when the
// state file cannot be written (counts lost at a restart). The page showed the actors alone, green: it now
// shows what status says is wrong, in status's own words (/status's warnings, control/health-lines.ts).
describe("dashboard in headless Chromium, with spamd unreachable and the state file unwritable", () => {
  let dir;
  let daemon;
  let browser;
  let port;
  let frontPort;

  /** The page's warnings, and its actors' badges, once it has drawn its first /status; `png`: a picture. */
  async function shown(png) {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.locator("#actors .badge").first().waitFor({ timeout: 10_000 });
    const warnings = await page.locator("#warnings > div").allInnerTexts();
    const actors = await page.locator("#actors .badge").allInnerTexts();
    if (png) {
      mkdirSync(join(root, "test-output"), { recursive: true });
      await page.screenshot({ path: join(root, "test-output", png), fullPage: true });
    }
    await page.close();
    return { warnings, actors };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "mailpolicyd-dashboard-unwell-"));
    frontPort = await freePort();
    const spamdPort = await freePort(); // nothing listens there
    ({ daemon, port } = await startDaemon(
      dir,
      `[spamd]\nlisten = 127.0.0.1:${frontPort}\n` +
        `[spamassassin]\naddress = 127.0.0.1:${spamdPort}\ntimeout = 5s\nfail_mode = open\n`,
    ));
    browser = await launchBrowser();
  });

  after(() => tearDown(browser, daemon, dir));

  it("all well: no warning", async () => {
    assert.deepEqual((await shown()).warnings, []);
  });

  it("shows a failing concern and an unwritable state file, each as status says it", async () => {
    // spamd not listening: the front answers (fail_mode open), and the SpamAssassin concern is failing.
    const reply = await spamc(frontPort, "Subject: hello\r\n\r\nhello\r\n");
    assert.match(reply, /^SPAMD\/1\.1 0 EX_OK\r\n/, reply);
    // A directory where the state file goes: each save fails at its rename, as on a full disk.
    rmSync(join(dir, "state.json"), { force: true });
    mkdirSync(join(dir, "state.json"));
    await ask(join(dir, "policy.sock"), "rcpt sender=a@example.org recipient=x@example.net\n");
    for (let i = 0;; i++) {
      const status = await (await fetch(`http://127.0.0.1:${port}/status`)).json();
      if (status.stateWrites?.failing && status.concerns?.spamassassin?.state === "failing") break;
      if (i === 200) {
        throw new Error(`not seen failing: ${JSON.stringify([status.stateWrites, status.concerns])}`);
      }
      await sleep(100);
    }
    const { warnings, actors } = await shown("dashboard-warnings.png");
    assert.ok(actors.every((badge) => badge.endsWith(": active")), actors.join(", "));
    assert.equal(warnings.length, 2, warnings.join("\n"));
    const [concern, state] = warnings;
    assert.match(
      concern,
      /^concerns: spamassassin FAILING since \d{4}-\d\d-\d\d [\d:]{8} \(\w+\), 1 requests /,
    );
    assert.ok(!concern.includes("limits ok"), `the concerns that answer are no warning: ${concern}`);
    assert.match(state, /^state file: NOT WRITTEN since \d{4}-\d\d-\d\d [\d:]{8} \(.+; \d+ saves? failed\)/);
    // In status's words: its concerns line has the same failing concern, its state file line is the same
    // (the saves failed so far may have grown meanwhile: retried).
    const text = execFileSync(build(), [
      "status",
      "--config",
      join(dir, "mailpolicyd.conf"),
    ], {
      encoding: "utf8",
    });
    assert.ok(text.includes(concern.replace(/^concerns: /, "")), `${concern}\n---\n${text}`);
    const saves = (line) => line.replace(/\d+ saves? failed/, "N saves failed");
    assert.ok(text.split("\n").map(saves).includes(saves(state)), `${state}\n---\n${text}`);
  });
});
