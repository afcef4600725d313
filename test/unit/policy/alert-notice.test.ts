import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AlertNotice, composeAlertMail, makeAlertNotice } from "../../../src/policy/alert-notice.ts";
import { capacity, commit, levelWith, newCounter, rollCounter } from "../../../src/policy/rate.ts";
import {
  ALERT_NONE,
  ALERT_PENDING,
  recordSighting,
  type SenderCounter,
} from "../../../src/policy/sender-counter.ts";
import { limitConfig } from "../../helpers/limit-config.ts";

const LIMIT = limitConfig({ name: "thresholds", count: 20, burst: 20, windowMs: 300_000, window: "300s" });
const START = Date.UTC(2024, 4, 1, 12, 0, 0); // 2024-05-01 12:00:00 UTC
const SEED = { from: "postmaster@example.org", to: ["boss@example.org"], cc: ["it@example.org"] };

function counter(withSightings: boolean): SenderCounter {
  const c: SenderCounter = { start: START, count: 21, last: START + 42_000, alert: ALERT_PENDING };
  if (withSightings) {
    for (let i = 0; i < 15; i++) recordSighting(c, "Cheap pills", "192.0.2.7");
    for (let i = 0; i < 6; i++) recordSighting(c, "Hello", "198.51.100.9");
  }
  return c;
}

const notice = (key = "spam@example.net", withSightings = true): AlertNotice =>
  makeAlertNotice(LIMIT, key, counter(withSightings), 21);

/**
 * A key counted one request at a time under `limit` from START, as the memory store does: the crossings'
 * notices (one per alert period: the alert state stays pending after the first).
 */
function counting(limit: ReturnType<typeof limitConfig>) {
  const counter = newCounter(START);
  const notices: AlertNotice[] = [];
  const send = (at: number) => {
    rollCounter(counter, limit, at);
    const level = levelWith(counter, limit, at, 1);
    if (level <= capacity(limit)) return commit(counter, 1, at);
    if (counter.alert !== ALERT_NONE) return;
    counter.alert = ALERT_PENDING;
    notices.push(makeAlertNotice(limit, "k@x", counter, Math.ceil(level)));
  };
  return { send, notices };
}

describe("makeAlertNotice", () => {
  it("identifies the alert by limit, key and window start", () => {
    const n = notice();
    assert.equal(n.id, `thresholds|spam@example.net|${START}`);
    const nextWindow = makeAlertNotice(LIMIT, "spam@example.net", {
      ...counter(false),
      start: START + 300_000,
    }, 21);
    assert.notEqual(nextWindow.id, n.id);
    assert.equal(makeAlertNotice(LIMIT, "spam@example.net", counter(false), 21).id, n.id);
  });

  it("copies the numbers and the top sightings", () => {
    const n = notice();
    assert.deepEqual(
      [n.limit, n.keyKind, n.key, n.count, n.limitCount, n.windowMs, n.firstSeen, n.lastSeen],
      ["thresholds", "sender", "spam@example.net", 21, 20, 300_000, START, START + 42_000],
    );
    assert.deepEqual(n.topSubjects, [["Cheap pills", 15], ["Hello", 6]]);
    assert.deepEqual(n.topClientIps, [["192.0.2.7", 15], ["198.51.100.9", 6]]);
  });

  it("keeps the top 10 only, and none without sightings", () => {
    const c = counter(false);
    for (let i = 0; i < 30; i++) recordSighting(c, `s${String(i).padStart(2, "0")}`);
    assert.equal(makeAlertNotice(LIMIT, "k", c, 21).topSubjects.length, 10);
    assert.deepEqual(notice("k", false).topSubjects, []);
    assert.deepEqual(notice("k", false).topClientIps, []);
  });
});

describe("composeAlertMail", () => {
  it("keeps the seed's plain subject verbatim and the addresses as configured", () => {
    const mail = composeAlertMail(notice(), { ...SEED, subject: "Mail Abuse Alert" }, "mx1");
    assert.equal(mail.subject, "Mail Abuse Alert");
    assert.equal(mail.from, "postmaster@example.org");
    assert.deepEqual(mail.to, ["boss@example.org"]);
    assert.deepEqual(mail.cc, ["it@example.org"]);
  });

  it("fills in {key} {count} {limit} {rule}, every occurrence", () => {
    const subject = "[{rule}] {key} sent {count} (limit {limit}); {key}";
    const mail = composeAlertMail(notice(), { ...SEED, subject }, "mx1");
    assert.equal(mail.subject, "[thresholds] spam@example.net sent 21 (limit 20); spam@example.net");
  });

  it("writes a body naming host, key, count, limit, window, times and top sightings", () => {
    const text = composeAlertMail(notice(), { ...SEED, subject: "x" }, "mx1.example.org").text;
    assert.match(text, /mx1\.example\.org/);
    assert.match(text, /spam@example\.net/);
    assert.match(text, /^How many: {4}21 messages in 300s, limit 20$/m);
    assert.match(text, /First seen: +2024-05-01 12:00:00 UTC/);
    assert.match(text, /Last seen: +2024-05-01 12:00:42 UTC/);
    assert.match(text, /Window ends: +2024-05-01 12:05:00 UTC/);
    assert.match(text, /Top subjects:\n +15 +Cheap pills\n +6 +Hello\n/);
    assert.match(text, /Top client IPs:\n +15 +192\.0\.2\.7\n +6 +198\.51\.100\.9\n/);
  });

  it("shows the window as written, the unit, and a bucket's burst as its limit", () => {
    const limit = limitConfig({ per: "recipient", algorithm: "bucket", count: 10, burst: 30, window: "90m" });
    const n = makeAlertNotice(limit, "k@x", counter(false), 30);
    assert.deepEqual([n.count, n.limitCount, n.unit, n.window], [30, 30, "recipients", "90m"]);
    const text = composeAlertMail(n, { ...SEED, subject: "x" }, "h").text;
    assert.match(text, /^How many: {4}30 recipients in 90m, limit 30$/m);
  });

  // A bucket's alert period starts at the crossing and a new one starts once the bucket has drained empty
  // (policy/rate.ts): the mail of a bucket said "First seen" for the crossing and promised no other alert
  // before a window end that a second alert came long before.
  it("tells a bucket's crossing and alert period, not a window's first sighting and end", () => {
    const limit = limitConfig({
      algorithm: "bucket",
      count: 60,
      burst: 5,
      windowMs: 3_600_000,
      window: "1h",
    });
    const { send, notices } = counting(limit);
    for (let i = 0; i <= 5; i++) send(START + i * 1000); // the sixth, at 12:00:05, crosses
    for (let i = 0; i <= 5; i++) send(START + 600_000 + i * 1000); // drained empty by then: crosses again
    assert.equal(notices.length, 2);
    assert.ok(notices[1].lastSeen < notices[0].firstSeen + limit.windowMs, "the second within the hour");
    const text = composeAlertMail(notices[0], { ...SEED, subject: "x" }, "h").text;
    assert.doesNotMatch(text, /First seen/, "12:00:05 is not when the key was first seen");
    assert.match(text, /^Crossed: +2024-05-01 12:00:05 UTC/m);
    assert.match(text, /^Period ends: +2024-05-01 13:00:05 UTC, or when the bucket drains empty$/m);
    assert.doesNotMatch(text, /no other for this key\nbefore the window ends/);
    assert.match(text, /no other for this key\nbefore the period ends or its bucket has drained empty/);
    const fixedText = composeAlertMail(notice(), { ...SEED, subject: "x" }, "h").text;
    assert.match(fixedText, /^First seen: +2024-05-01 12:00:00 UTC \(start of the window\)$/m);
  });

  // A sliding window's start moves on by whole windows and the window before it weighs in: the mail said
  // "First seen" for a time at which the key had sent nothing, an hour after its first counted message.
  it("tells a sliding window's span, not a first sighting at the window's start", () => {
    const limit = limitConfig({ algorithm: "sliding", count: 10, windowMs: 3_600_000, window: "1h" });
    const { send, notices } = counting(limit);
    for (let i = 0; i < 8; i++) send(START + i * 1000); // 12:00:00 to 12:00:07
    for (let i = 0; i < 6; i++) send(START + 4_200_000 + i * 1000); // from 13:10:00: 8 * 5/6 + 4 > 10
    assert.equal(notices.length, 1, "crossed once");
    const [crossing] = notices;
    assert.equal(crossing.firstSeen, START + 3_600_000, "the window starts at 13:00, when nothing was sent");
    const text = composeAlertMail(crossing, { ...SEED, subject: "x" }, "h").text;
    assert.doesNotMatch(text, /First seen/);
    assert.match(text, /^Since: +2024-05-01 12:00:00 UTC \(this and the previous window\)$/m);
    assert.match(text, /^Window ends: +2024-05-01 14:00:00 UTC$/m);
  });

  it("reads a notice saved by an older version, without unit and window text", () => {
    const { unit: _unit, window: _window, ...old } = notice();
    const text = composeAlertMail({ ...old, windowMs: 3_600_000 }, { ...SEED, subject: "x" }, "h").text;
    assert.match(text, /^How many: {4}21 messages in 3600s, limit 20$/m);
  });

  it("keeps the body printable ASCII in lines of at most 76 characters, so that it goes out 7bit", () => {
    const key = `${"very.long.local.part".repeat(5)}@exämple.org`;
    const c = counter(false);
    recordSighting(c, "Grüße aus Köln 💰", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
    recordSighting(c, "Buy now! ".repeat(20));
    const text = composeAlertMail(makeAlertNotice(LIMIT, key, c, 21), { ...SEED, subject: "x" }, "h").text;
    for (const line of text.split("\n")) {
      assert.ok(line.length <= 76, `too long: ${line}`);
      assert.match(line, /^[\x20-\x7e]*$/, `not printable ASCII: ${line}`);
    }
    assert.match(text, /^ +1 {2}Gr\\u\{fc\}\\u\{df\}e aus K\\u\{f6\}ln \\u\{1f4b0\}$/m);
    assert.match(text, /^ +1 {2}(Buy now! )+\.\.\.$/m, "a long subject is cut to its line");
    const who = /^Who: +(.*)\n((?: {2}.*\n)*)/m.exec(text)!;
    assert.equal(
      (who[1] + who[2].replace(/\n {2}/g, "").replace(/^ {2}/, "")).trimEnd(),
      key.replace("ä", "\\u{e4}"),
      "the key is folded, not cut",
    );
  });

  it("says so when no subject or client address was reported", () => {
    const text = composeAlertMail(notice("k@x", false), { ...SEED, subject: "x" }, "h").text;
    assert.match(text, /Top subjects:\n +\(none reported/);
    assert.match(text, /Top client IPs:\n +\(none reported/);
  });

  // A sender address is attacker-chosen, and `{`, `}`, `$`, `'` are legal in a local part: it must not
  // be expanded again as a placeholder or as a replacement pattern.
  it("inserts the key verbatim, even when it looks like a placeholder or a $ pattern", () => {
    const key = "{limit}$'$&@evil.example";
    const mail = composeAlertMail(notice(key), { ...SEED, subject: "Abuse by {key}!" }, "h");
    assert.equal(mail.subject, `Abuse by ${key}!`);
  });

  // With SMTPUTF8 a sender address may hold Unicode's bidirectional controls. In the Subject, a reader's
  // mail client applies them: "\u202Egro.elpmaxe@nimda" showed as "admin@example.org", so the alert
  // named another sender than the one counted. The body already escapes them.
  it("shows bidirectional controls in a key escaped in the subject, as the body does", () => {
    const key = "\u202Egro.elpmaxe@nimda";
    const mail = composeAlertMail(notice(key), { ...SEED, subject: "Abuse by {key}!" }, "h");
    assert.equal(mail.subject, "Abuse by \\u{202e}gro.elpmaxe@nimda!");
    for (const control of ["\u061C", "\u200E", "\u200F", "\u202A", "\u2066", "\u2069"]) {
      const subject = composeAlertMail(notice(`a${control}b@x`), { ...SEED, subject: "{key}" }, "h").subject;
      assert.doesNotMatch(
        subject,
        /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u,
        JSON.stringify(subject),
      );
    }
    assert.match(mail.text, /^Who: +\\u\{202e\}gro\.elpmaxe@nimda$/m);
  });

  // A zero-width space, soft hyphen or tag character draws nothing: the subject named admin@example.org for
  // another account's alert.
  it("shows the other format characters in a key escaped in the subject, as the body does", () => {
    const key = "admin\u200b\u00ad@example.org\u{e0041}";
    const mail = composeAlertMail(notice(key), { ...SEED, subject: "Abuse by {key}!" }, "h");
    assert.equal(mail.subject, "Abuse by admin\\u{200b}\\u{ad}@example.org\\u{e0041}!");
    assert.doesNotMatch(mail.subject, /\p{Cf}/u);
  });

  // Drawn as nothing too, though not format characters: a Hangul filler, a variation selector.
  it("shows a Hangul filler or variation selector in a key escaped in the subject", () => {
    const mail = composeAlertMail(
      notice("admin\u3164@example.org\ufe0f"),
      { ...SEED, subject: "{key}" },
      "h",
    );
    assert.equal(mail.subject, "admin\\u{3164}@example.org\\u{fe0f}");
  });
});
