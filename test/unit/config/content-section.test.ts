// [content] and [rule NAME] (config/schema.ts CONTENT_SECTION and RULE_SECTION, config/content-values.ts,
// config/content-config.ts): no section, no content concern; every value checked; every error with its
// file and line.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";

const load = (text: string) => parseConfig(text, "t.conf", "/tmp");
const errors = (text: string) => {
  const result = load(text);
  assert.ok(!result.ok, "expected errors");
  return result.errors;
};

describe("[content]", () => {
  it("absent: no content concern; its settings still have their defaults", () => {
    const result = load("[limit out]\ncount = 5\ntime = 1h\n");
    assert.ok(result.ok);
    assert.equal(result.config.content, undefined);
    assert.deepEqual(result.config.concerns.content, { timeoutMs: 2000, failMode: "open" });
  });

  it("a bare section: the schema's bounds, no rules", () => {
    const result = load("[daemon]\nfail_mode = closed\n[content]\n");
    assert.ok(result.ok, JSON.stringify(result));
    const { executableExtensions, ...bounds } = result.config.content!;
    assert.deepEqual(bounds, {
      maxScanSize: 10 * 1024 * 1024,
      maxDepth: 10,
      maxParts: 500,
      zip: true,
      zipMaxDepth: 2,
      zipMaxBytes: 4 * 1024 * 1024,
      zipMaxEntries: 1000,
      zipMaxMessageEntries: 5000,
      rules: [],
    });
    for (const extension of [".exe", ".scr", ".com", ".pif", ".bat", ".cmd", ".js", ".jse", ".vbs", ".vbe"]) {
      assert.ok(executableExtensions.has(extension), extension);
    }
    for (
      const extension of [".wsf", ".wsh", ".hta", ".msi", ".jar", ".ps1", ".lnk", ".cpl", ".reg", ".dll"]
    ) {
      assert.ok(executableExtensions.has(extension), extension);
    }
    assert.deepEqual(result.config.concerns.content, { timeoutMs: 2000, failMode: "closed" });
  });

  it("sizes, extensions, zip settings", () => {
    const result = load(
      "[content]\nmax_scan_size = 512K\nzip = no\nzip_max_bytes = 0\nexecutable_extensions = EXE, .Scr\n" +
        "zip_max_message_entries = 200000\n",
    );
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.config.content!.maxScanSize, 512 * 1024);
    assert.equal(result.config.content!.zip, false);
    assert.equal(result.config.content!.zipMaxBytes, 0);
    assert.equal(result.config.content!.zipMaxMessageEntries, 200_000);
    assert.deepEqual([...result.config.content!.executableExtensions], [".exe", ".scr"]);
    assert.deepEqual(
      errors(
        "[content]\nmax_scan_size = lots\nexecutable_extensions = a b/c\nzip_max_message_entries = 0\n",
      ),
      [
        "t.conf:2: content.max_scan_size: expected a size such as 512000, 500k or 10M",
        "t.conf:3: content.executable_extensions: 'b/c' is not a file extension",
        "t.conf:4: content.zip_max_message_entries: must be at least 1",
      ],
    );
  });
});

describe("[rule NAME]", () => {
  it("each kind of rule, in file order, with symbol, score, action and message", () => {
    const result = load(`[content]
[rule lottery]
subject = /you (have )?won/i
score = 4.5
[rule Spam-Tag]
subject_prefix = [SPAM]
action = warn
[rule traps]
recipients = Trap@Example.org, @traps.example.net
score = 20
action = reject
message = go away
[rule exe]
attachments = executable, encrypted_zip, .ISO
score = -1
`);
    assert.ok(result.ok, JSON.stringify(result));
    const rules = result.config.content!.rules;
    assert.deepEqual(rules.map((rule) => [rule.name, rule.symbol, rule.score, rule.action, rule.message]), [
      ["lottery", "LOTTERY", 4.5, "accept", undefined],
      ["spam-tag", "SPAM_TAG", 0, "warn", undefined],
      ["traps", "TRAPS", 20, "reject", "go away"],
      ["exe", "EXE", -1, "accept", undefined],
    ]);
    assert.deepEqual(rules[0].condition, { kind: "subject", pattern: /you (have )?won/i });
    assert.deepEqual(rules[1].condition, { kind: "subject_prefix", prefix: "[spam]" });
    assert.deepEqual(rules[2].condition, {
      kind: "recipients",
      addresses: new Set(["trap@example.org"]),
      domains: ["traps.example.net"],
    });
    assert.deepEqual(rules[3].condition, {
      kind: "attachments",
      kinds: ["executable", "encrypted_zip"],
      extensions: [".iso"],
    });
  });

  it("a bad regular expression, flag or pattern: an error with file and line", () => {
    assert.deepEqual(errors("[content]\n[rule a]\nsubject = /(unclosed/i\n"), [
      "t.conf:3: rule a.subject: invalid regular expression: " + regexError("(unclosed", "i"),
    ]);
    assert.deepEqual(errors("[content]\n[rule a]\nsubject = /x/g\n"), [
      "t.conf:3: rule a.subject: flag 'g' not allowed (use i, m, s, u)",
    ]);
    assert.deepEqual(errors("[content]\n[rule a]\nsubject = lottery\n"), [
      "t.conf:3: rule a.subject: expected /regular expression/flags, such as /you have won/i",
    ]);
  });

  it("exactly one condition; known kinds, addresses, scores and actions; a [content] section", () => {
    assert.deepEqual(errors("[content]\n[rule a]\nscore = 1\n"), [
      "t.conf:2: [rule a]: give exactly one of subject, subject_prefix, recipients, attachments (found none)",
    ]);
    // At the line of the key that conflicts with one before it, as [limit]'s cross-key errors.
    assert.deepEqual(errors("[content]\n[rule a]\nsubject = /x/\nscore = 1\nrecipients = a@b.c\n"), [
      "t.conf:5: rule a.recipients: give exactly one of subject, subject_prefix, recipients, attachments " +
      "(found subject and recipients)",
    ]);
    assert.deepEqual(
      errors("[content]\n[rule a]\nrecipients = a@b.c\nsubject = /x/\nattachments = executable\n"),
      [
        "t.conf:4: rule a.subject: give exactly one of subject, subject_prefix, recipients, attachments " +
        "(found subject and recipients and attachments)",
      ],
    );
    assert.deepEqual(
      errors(
        "[content]\n[rule a]\nattachments = programs\n[rule b]\nrecipients = nobody\n[rule c]\n" +
          "subject_prefix = x\nscore = lots\naction = drop\n",
      ),
      [
        "t.conf:3: rule a.attachments: 'programs' is not executable, encrypted_zip, corrupt_zip or an .extension",
        "t.conf:5: rule b.recipients: 'nobody' is not an address or an @domain",
        "t.conf:8: rule c.score: expected a score such as 5, 5.0, -1.5 or 12.25 (at most two decimals)",
        "t.conf:9: rule c.action: expected one of: accept, warn, defer, reject",
      ],
    );
    assert.deepEqual(errors("[rule a]\nsubject = /x/\n"), [
      "t.conf:1: [rule a]: content rules need a [content] section",
    ]);
    assert.deepEqual(errors("[content]\n[rule a/b]\nsubject = /x/\n"), [
      "t.conf:2: [rule a/b]: rule names use a-z, 0-9, _ . -",
    ]);
  });

  it("two rules whose names give one symbol (- and . read as _): an error at the second", () => {
    // Both reported SPAM_WORDS: the spamd report, the log line and the metrics could not tell them apart.
    assert.deepEqual(
      errors(
        "[content]\n[rule spam-words]\nsubject = /x/\n[rule spam_words]\nsubject_prefix = y\n" +
          "[rule spam.words]\nattachments = executable\n",
      ),
      [
        "t.conf:4: [rule spam_words]: its symbol SPAM_WORDS is [rule spam-words]'s (line 2): rename one",
        "t.conf:6: [rule spam.words]: its symbol SPAM_WORDS is [rule spam-words]'s (line 2): rename one",
      ],
    );
  });
});

function regexError(source: string, flags: string): string {
  try {
    new RegExp(source, flags);
    return "";
  } catch (error) {
    return (error as Error).message;
  }
}
