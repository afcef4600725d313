// GET / on the control listener: one self-contained page (no CDN, no build step) that polls /status
// every 5 s and draws top senders, requests per minute over the last hour, recent alerts, actor health and
// what else status says is wrong.
import { createHash } from "node:crypto";
import { ALERT_STATUS_TEXT } from "./alert-status-text.ts";
import { UNPRINTABLE_CHARS } from "../policy/unprintable-chars.ts";
import { THIS_HOST_ONLY_LINE } from "./counts-scope.ts";

// The page's one script, apart so that its Content-Security-Policy can name it by its hash.
const DASHBOARD_SCRIPT =
  `// Mail's text as \\uNNNN where it would drive the page or hide in it: a bidi control turned a key round,
// a zero-width space (U+200B) made another account read as "admin@example.org".
const UNPRINTABLE = new RegExp(${JSON.stringify(`[${UNPRINTABLE_CHARS}]`)}, "gu");
const escaped = (code) =>
  code > 0xffff ? "\\\\u{" + code.toString(16) + "}" : "\\\\u" + code.toString(16).padStart(4, "0");
const text = (value) => String(value)
  .replace(UNPRINTABLE, (c) => escaped(c.codePointAt(0)))
  .replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
function chart(minutes) {
  const svg = document.getElementById("chart");
  const now = Math.floor(Date.now() / 60000);
  const byMinute = new Map(minutes.map((m) => [m.minute, m]));
  let max = 1;
  for (const m of minutes) max = Math.max(max, m.requests);
  let bars = "";
  for (let i = 0; i < 60; i++) {
    const m = byMinute.get(now - 59 + i);
    if (!m) continue;
    let y = 150;
    for (const [count, color] of [[m.accept, "#2e7d32"], [m.warn, "#ef6c00"], [m.defer + m.reject, "#c62828"], [m.error, "#666"]]) {
      const h = count / max * 140;
      if (h > 0) bars += '<rect x="' + (i * 10) + '" y="' + (y - h) + '" width="9" height="' + h + '" fill="' + color + '"></rect>';
      y -= h;
    }
  }
  svg.innerHTML = '<line x1="0" y1="150" x2="600" y2="150" stroke="#bbb"></line>' + bars +
    '<text x="2" y="10" font-size="10" fill="#666">' + max + '/min</text>';
}
// A failed alert is being retried (control/alert-status-text.ts): said so, not "failed" alone.
const STATUS_TEXT = ${JSON.stringify(ALERT_STATUS_TEXT)};
async function refresh() {
  try {
    const response = await fetch("status");
    const status = await response.json();
    // A refusal (429 when polled too fast, 503) is the daemon's answer, not an unreachable daemon: said
    // as it is, the last figures kept. Read as /status, it was "cannot reach mailpolicyd: TypeError…".
    if (!response.ok) {
      document.getElementById("error").textContent = "mailpolicyd answered " + response.status + ": " +
        status.error + " (the figures below are from its last answer)";
      return;
    }
    document.getElementById("error").textContent = "";
    document.getElementById("meta").textContent = "version " + status.version + " · up " + status.uptime +
      " · " + status.requests.total + " requests (" + status.rates.lastMinute.toFixed(1) + "/min) · " +
      (status.trackedKeys ?? "?") + " keys tracked" + (status.redis ? " on this host" : "") + " · " +
      status.config;
    document.getElementById("actors").innerHTML = Object.entries(status.actors).map(([name, state]) =>
      '<span class="badge ' + text(state) + '">' + text(name) + ": " + text(state) + "</span>").join("");
    // What status says is wrong besides the actors (a concern failing, Redis away, the state file not
    // written or still restoring), in its words from /status: unsaid, the page looked green meanwhile.
    document.getElementById("warnings").innerHTML =
      (status.warnings ?? []).map((line) => "<div>" + text(line) + "</div>").join("");
    // While Redis is away the top senders are what this host counted meanwhile (limits/shared-store.ts), and
    // there are none when Redis or the counters did not answer: said as status says it. Unsaid, one host's
    // counts read as every host's, and an unanswered Redis as "nobody yet".
    const senders = status.topSenders;
    document.getElementById("scope").textContent =
      status.topSendersThisHostOnly ? ${JSON.stringify(THIS_HOST_ONLY_LINE)} : "";
    document.querySelector("#senders tbody").innerHTML = !senders
      ? "<tr><td colspan=4>top senders unavailable (" + text(status.topSendersUnavailable) + ")</td></tr>"
      : senders.map((row) =>
      "<tr><td class=mono>" + text(row.key) + "</td><td>" + text(row.rule) + "</td><td>" + row.count + " / " + row.limit +
      " per " + text(row.window) + '</td><td><div class="bar' + (row.over || row.atLimit ? " over" : "") + '"><div style="width:' +
      Math.min(100, row.count / row.limit * 100) + '%"></div></div></td></tr>').join("") || "<tr><td colspan=4>nobody yet</td></tr>";
    document.querySelector("#alerts tbody").innerHTML = status.alerts.recent.map((alert) =>
      "<tr><td>" + new Date(alert.at).toLocaleTimeString() + "</td><td class=mono>" + text(alert.key) + "</td><td>" +
      text(alert.rule) + "</td><td>" + alert.count + " / " + alert.limit + "</td><td>" + text(STATUS_TEXT[alert.status] ?? alert.status) + "</td></tr>").join("") ||
      "<tr><td colspan=5>none</td></tr>";
    chart(status.minutes);
  } catch (error) {
    document.getElementById("error").textContent = "cannot reach mailpolicyd: " + error;
  }
}
refresh();
setInterval(refresh, 5000);
`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mailpolicyd</title>
<style>
  :root { --ok: #2e7d32; --warn: #ef6c00; --bad: #c62828; --muted: #666; --bar: #1565c0; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; background: #fafafa; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1rem; margin: 1.4rem 0 .5rem; }
  .meta { color: var(--muted); }
  /* minmax(0, …) and anywhere: a key is a sender's, up to 255 characters without a space, and it widened its
     column, the grid and the page past the window, the counts and bars off to the right. */
  .grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1.5rem; }
  section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .8rem 1rem; }
  table { border-collapse: collapse; width: 100%; } td, th { padding: .25rem .4rem; text-align: left; }
  th { color: var(--muted); font-weight: 600; border-bottom: 1px solid #ddd; }
  .bar { background: #e3e8ef; border-radius: 3px; height: .8rem; width: 10rem; overflow: hidden; }
  .bar > div { background: var(--bar); height: 100%; } .bar.over > div { background: var(--bad); }
  .badge { display: inline-block; padding: 0 .5rem; border-radius: 1rem; color: #fff; margin-right: .3rem; }
  .active { background: var(--ok); } .down, .error, .stopped { background: var(--bad); }
  .legend span { margin-right: 1rem; } .mono { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
  #error { color: var(--bad); } #scope { color: var(--warn); font-weight: 600; }
  #warnings > div { color: var(--bad); font-weight: 600; margin-bottom: .3rem; }
</style>
</head>
<body>
<h1>mailpolicyd</h1>
<div class="meta" id="meta">loading…</div>
<div id="error"></div>
<h2>Actors</h2>
<div id="actors" style="margin-bottom:.6rem"></div>
<div id="warnings" style="margin-bottom:1.5rem"></div>
<div class="grid">
  <section>
    <h2>Top senders</h2>
    <div id="scope"></div>
    <table id="senders"><thead><tr><th>key</th><th>rule</th><th>count / limit</th><th></th></tr></thead>
    <tbody></tbody></table>
  </section>
  <section>
    <h2>Requests per minute, last hour</h2>
    <svg id="chart" width="100%" height="160" viewBox="0 0 600 160" preserveAspectRatio="none"
      role="img" aria-label="requests per minute"></svg>
    <div class="legend"><span style="color:#2e7d32">■ accept</span><span style="color:#ef6c00">■ warn</span>
    <span style="color:#c62828">■ defer / reject</span><span style="color:#666">■ error</span></div>
  </section>
</div>
<section style="margin-top:1.5rem">
  <h2>Recent alerts</h2>
  <table id="alerts"><thead><tr><th>time</th><th>key</th><th>rule</th><th>count</th><th>mail</th></tr></thead>
  <tbody></tbody></table>
</section>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;

/**
 * The page's Content-Security-Policy: its own script (by hash) and nothing else runs, it fetches only from
 * the daemon. Every key is a sender's address, chosen by whoever sends mail; they are drawn as text, and
 * were one ever drawn as markup (`"<img src=x onerror=...>"@example.org`), its handler would not run.
 * Styles stay inline: the bars' widths are style attributes.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${createHash("sha256").update(DASHBOARD_SCRIPT).digest("base64")}'`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");
