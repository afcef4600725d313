import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { composeDigestMail, digestBatches, routeAlert } from "../../../src/policy/alert-digest.ts";
import { type AlertNotice, makeAlertNotice } from "../../../src/policy/alert-notice.ts";
import { ALERT_PENDING, recordSighting, type SenderCounter } from "../../../src/policy/sender-counter.ts";
import { limitConfig } from "../../helpers/limit-config.ts";

const SETTINGS = { digestAfter: 3, digestWindowMs: 60_000 };
const LIMIT = limitConfig({ name: "thresholds", count: 20, burst: 20, windowMs: 300_000, window: "300s" });
const START = Date.UTC(2024, 4, 1, 12, 0, 0);

function notice(i: number, ip = "192.0.2.7"): AlertNotice {
  const counter: SenderCounter = { start: START, count: 21, last: START + i * 1000, alert: ALERT_PENDING };
  recordSighting(counter, "Cheap pills", ip);
  return makeAlertNotice(LIMIT, `forged${i}@example.net`, counter, 21);
}

/** Routes alerts arriving at the given times; says which went alone. */
function route(times: number[], collectingFrom = Infinity): boolean[] {
  let recent: number[] = [];
  return times.map((at, i) => {
    const result = routeAlert(recent, at, SETTINGS, i >= collectingFrom);
    recent = result.recent;
    return result.alone;
  });
}

describe("routeAlert", () => {
  it("lets digest_after alerts within the window go alone, and holds the next ones", () => {
    assert.deepEqual(route([0, 1, 2, 3, 4]), [true, true, true, false, false]);
  });

  it("lets alerts go alone again once the window has passed since the earlier ones", () => {
    assert.deepEqual(route([0, 10_000, 20_000, 61_000, 62_000]), [true, true, true, true, false]);
    assert.deepEqual(route([0, 1, 2, 200_000]), [true, true, true, true]);
  });

  it("sends everything into the digest while one is being gathered", () => {
    assert.deepEqual(route([0, 200_000, 400_000], 1), [true, false, false]);
  });

  it("remembers at most digest_after arrival times", () => {
    let recent: number[] = [];
    for (let at = 0; at < 100; at++) recent = routeAlert(recent, at, SETTINGS, false).recent;
    assert.deepEqual(recent, [97, 98, 99]);
  });
});

describe("digestBatches", () => {
  it("splits held alerts into mails of at most the given number of keys", () => {
    const held = Array.from({ length: 7 }, (_, i) => notice(i));
    assert.deepEqual(digestBatches(held, 3).map((batch) => batch.length), [3, 3, 1]);
    assert.deepEqual(digestBatches([], 3), []);
  });
});

describe("composeDigestMail", () => {
  const MAIL = { from: "postmaster@example.org", to: ["boss@example.org"], cc: [], ...SETTINGS };
  const notices = Array.from({ length: 5 }, (_, i) => notice(i, i < 4 ? "192.0.2.7" : "198.51.100.9"));

  it("lists every key with its count, limit and rule in one 7bit mail", () => {
    const mail = composeDigestMail(notices, { ...MAIL, subject: "Mail Abuse Alert" }, "mx1");
    assert.equal(mail.subject, "Mail Abuse Alert (digest of 5 keys)");
    for (let i = 0; i < 5; i++) {
      assert.match(mail.text, new RegExp(`^ +21 +20  thresholds  forged${i}@example\\.net$`, "m"));
    }
    assert.match(mail.text, /^mailpolicyd on mx1: 5 keys passed their limits/);
    assert.match(mail.text, /more than 3 within 1m/);
    assert.match(mail.text, /Crossed: +between 2024-05-01 12:00:00 UTC and 2024-05-01 12:00:04 UTC/);
    assert.match(mail.text, /Top client IPs \(all keys above\):\n +4 +192\.0\.2\.7\n +1 +198\.51\.100\.9\n/);
    assert.match(mail.text, /Top subjects \(all keys above\):\n +5 +Cheap pills\n/);
    for (const line of mail.text.split("\n")) {
      assert.ok(line.length <= 76 && /^[\x20-\x7e]*$/.test(line), line);
    }
  });

  // A key is what a client sent: over the milter port a local user's sender held line feeds.
  it("keeps each key on its row, its line breaks written out", () => {
    const forged = { ...notices[0], key: "a@x.net\n99 20 thresholds b@x.net" };
    const text = composeDigestMail([forged, ...notices.slice(1)], { ...MAIL, subject: "x" }, "mx1").text;
    assert.doesNotMatch(text, /^99/m, text);
    assert.match(text, /^ +21 +20 {2}thresholds {2}a@x\.net\\u\{a\}99 20 thresholds b@x\.net$/m, text);
  });

  it("fills {key} with the number of keys, so the subject needs nothing appended", () => {
    const mail = composeDigestMail(notices, { ...MAIL, subject: "[{rule}] {key}, {count} messages" }, "mx1");
    assert.equal(mail.subject, "[thresholds] 5 keys, 105 messages");
  });

  it("says that a bucket's key may be alerted again once its bucket has drained empty", () => {
    const plain = composeDigestMail(notices, { ...MAIL, subject: "x" }, "mx1").text;
    assert.doesNotMatch(plain, /bucket/);
    const withBucket = [...notices.slice(1), { ...notices[0], algorithm: "bucket" as const }];
    const text = composeDigestMail(withBucket, { ...MAIL, subject: "x" }, "mx1").text;
    assert.match(
      text.replace(/\n/g, " "),
      /before its window ends \(a bucket's alert period: or it drains empty\)/,
    );
  });
});
