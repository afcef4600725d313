import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  formatAttributes,
  isStage,
  parseAttributes,
  quoteValue,
  STAGES,
} from "../../../src/protocols/attributes.ts";

function parsed(text: string) {
  const result = parseAttributes("rcpt", text);
  if (!result.ok) throw new Error(`rejected ${JSON.stringify(text)}: ${result.reason}`);
  return result;
}

function reason(text: string): string {
  const result = parseAttributes("rcpt", text);
  if (result.ok) throw new Error(`accepted ${JSON.stringify(text)} as ${JSON.stringify(result)}`);
  return result.reason;
}

describe("stages", () => {
  it("are the five SMTP stages and local submission, lower case", () => {
    assert.deepEqual([...STAGES], ["connect", "helo", "mail", "rcpt", "data", "local"]);
    for (const stage of STAGES) assert.equal(isStage(stage), true);
    for (const word of ["RCPT", "quit", "", "rcpt ", "ehlo"]) assert.equal(isStage(word), false, word);
  });
});

describe("parseAttributes", () => {
  it("reads bare values, separated by blanks", () => {
    assert.deepEqual(
      parsed(" sender=bob@example.org recipient=carol@example.net\tclient_address=192.0.2.1"),
      {
        ok: true,
        stage: "rcpt",
        attributes: {
          sender: "bob@example.org",
          recipient: "carol@example.net",
          client_address: "192.0.2.1",
        },
        ignored: [],
      },
    );
  });

  it("keeps the stage it was given", () => {
    const result = parseAttributes("data", "recipient_count=3");
    assert.ok(result.ok);
    assert.equal(result.stage, "data");
    assert.deepEqual(result.attributes, { recipient_count: "3" });
  });

  it("an empty text is no attributes at all", () => {
    assert.deepEqual(parsed("").attributes, {});
    assert.deepEqual(parsed("   ").attributes, {});
  });

  it("an empty bare value is the empty string", () => {
    assert.deepEqual(parsed("sender= recipient=a@x").attributes, { sender: "", recipient: "a@x" });
    assert.deepEqual(parsed("sender=").attributes, { sender: "" });
  });

  it("reads quoted values with blanks, = and other punctuation inside", () => {
    assert.deepEqual(parsed('subject="Hello, world = 1 \'x\'" sender="a b@x"').attributes, {
      subject: "Hello, world = 1 'x'",
      sender: "a b@x",
    });
    assert.deepEqual(parsed('sender=""').attributes, { sender: "" });
  });

  it("undoes Exim's ${quote:} escapes: \\\" \\\\ \\n \\r", () => {
    assert.equal(parsed(String.raw`subject="say \"hi\""`).attributes.subject, 'say "hi"');
    assert.equal(parsed(String.raw`subject="back\\slash"`).attributes.subject, "back\\slash");
    assert.equal(parsed(String.raw`subject="line1\nline2\r"`).attributes.subject, "line1\nline2\r");
    assert.equal(parsed(String.raw`subject="\\n"`).attributes.subject, "\\n", "an escaped backslash, then n");
  });

  it("a backslash before any other character stands for that character", () => {
    assert.equal(parsed(String.raw`subject="a\qb\ c"`).attributes.subject, "aqb c");
  });

  it("takes UTF-8 values as they are", () => {
    assert.equal(parsed('subject="Grüße 👋"').attributes.subject, "Grüße 👋");
    assert.equal(parsed("helo_name=bücher.example").attributes.helo_name, "bücher.example");
  });

  it("puts unknown names in `ignored`, as written, and keeps going", () => {
    const result = parsed('X-Extra=1 sender=a@x foo="b c" protocol_name=ESMTP');
    assert.deepEqual(result.attributes, { sender: "a@x" });
    assert.deepEqual(result.ignored, ["X-Extra", "foo", "protocol_name"]);
  });

  it("ignores a name as long as a known one but not it, and a known name's prefix or extension", () => {
    const result = parsed("sendor=a@x sende=b@x senders=c@x sender=d@x");
    assert.deepEqual(result.attributes, { sender: "d@x" });
    assert.deepEqual(result.ignored, ["sendor", "sende", "senders"]);
  });

  it("matches names case-insensitively", () => {
    assert.deepEqual(parsed("Sender=a@x CLIENT_ADDRESS=192.0.2.1 Sasl_Username=al").attributes, {
      sender: "a@x",
      client_address: "192.0.2.1",
      sasl_username: "al",
    });
  });

  it("knows every Postfix policy name it documents, plus subject", () => {
    const names = [
      "sender",
      "recipient",
      "client_address",
      "client_name",
      "helo_name",
      "sasl_username",
      "recipient_count",
      "size",
      "queue_id",
      "instance",
      "subject",
    ];
    const result = parsed(names.map((name, i) => `${name}=v${i}`).join(" "));
    assert.deepEqual(result.ignored, []);
    assert.deepEqual(Object.keys(result.attributes).sort(), names.slice().sort());
  });

  it("rejects an unterminated quoted value", () => {
    assert.equal(reason('sender="abc'), "unterminated quoted value for sender");
    assert.equal(reason(String.raw`sender="abc\"`), "unterminated quoted value for sender");
    assert.equal(reason(String.raw`subject="abc\\`), "unterminated quoted value for subject");
    assert.equal(reason(String.raw`subject="abc\\\"`), "unterminated quoted value for subject");
  });

  it("rejects text right after a closing quote", () => {
    assert.equal(reason('sender="a"b recipient=c'), "text after the closing quote of sender");
    assert.equal(reason('sender="a""b"'), "text after the closing quote of sender");
  });

  it("rejects a quote inside a bare value", () => {
    assert.equal(reason('sender=a"b"'), "stray quote in the value of sender");
    assert.equal(reason('recipient=x sender=ab"'), "stray quote in the value of sender");
  });

  it("rejects a word without =, naming the column", () => {
    assert.equal(reason("sender"), "expected name=value at column 1");
    assert.equal(reason("sender=a@x recipient"), "expected name=value at column 12");
    assert.equal(reason("sender =a@x"), "expected name=value at column 1");
    assert.equal(reason("=a@x"), "expected name=value at column 1");
    assert.equal(reason("1st=x"), "expected name=value at column 1");
    assert.equal(reason('"sender"=x'), "expected name=value at column 1");
  });
});

describe("quoteValue", () => {
  it("leaves values of only letters, digits, _ . - bare", () => {
    for (const value of ["defer", "outbound", "a.b-c_d", "21", "X"]) assert.equal(quoteValue(value), value);
  });

  it("quotes everything else, the empty value included", () => {
    assert.equal(quoteValue(""), '""');
    assert.equal(quoteValue("a b"), '"a b"');
    assert.equal(quoteValue("bob@example.org"), '"bob@example.org"');
    assert.equal(quoteValue("a=b"), '"a=b"');
    assert.equal(quoteValue("grüße"), '"grüße"');
    assert.equal(quoteValue("192.0.2.0/24"), '"192.0.2.0/24"');
  });

  it("escapes quotes and backslashes, and writes newline and carriage return as \\n and \\r", () => {
    assert.equal(quoteValue('say "hi"'), String.raw`"say \"hi\""`);
    assert.equal(quoteValue("a\\b"), String.raw`"a\\b"`);
    assert.equal(quoteValue("1\n2\r3"), String.raw`"1\n2\r3"`);
    assert.equal(quoteValue("\\n"), String.raw`"\\n"`);
  });

  it("never puts a raw newline or carriage return in its output", () => {
    assert.doesNotMatch(quoteValue("a\r\nb\n\n"), /[\r\n]/);
  });
});

describe("formatAttributes", () => {
  it("writes name=value pairs separated by one space, quoting as needed", () => {
    assert.equal(
      formatAttributes([["action", "defer"], ["message", "over limit"], ["count", 21]]),
      'action=defer message="over limit" count=21',
    );
  });

  it("leaves out undefined fields, but not empty ones", () => {
    assert.equal(formatAttributes([["a", undefined], ["b", "x"], ["c", undefined]]), "b=x");
    assert.equal(formatAttributes([["a", ""]]), 'a=""');
    assert.equal(formatAttributes([]), "");
  });

  it("is read back by parseAttributes", () => {
    const fields: [string, string][] = [
      ["sender", 'odd "name"@example.org'],
      ["recipient", "plain"],
      ["subject", "two\nlines"],
      ["size", ""],
    ];
    assert.deepEqual(parsed(formatAttributes(fields)).attributes, Object.fromEntries(fields));
  });
});

describe("quoteValue / parseAttributes round trip", () => {
  const tricky = [
    "",
    " ",
    "plain",
    "with space",
    " leading and trailing ",
    '"',
    '""',
    '"quoted"',
    "\\",
    "\\\\",
    '\\"',
    '"\\',
    "ends with backslash\\",
    "\n",
    "\r\n",
    "a\nb\rc",
    "\\n is not a newline",
    "tab\there",
    "=",
    "a=b=c",
    "name=value other=thing",
    'x" y="z',
    "Grüße aus Köln",
    "日本語の件名",
    "emoji 😀👍🏽",
    "\u2028\u2029",
    "=?UTF-8?B?SGVsbG8=?=",
    "'single'",
    "$& {count} ${quote:x}",
  ];

  it("gives back every tricky value", () => {
    for (const value of tricky) {
      const result = parseAttributes("rcpt", `subject=${quoteValue(value)}`);
      assert.ok(result.ok, `${JSON.stringify(value)}: ${!result.ok && result.reason}`);
      assert.equal(result.attributes.subject, value, JSON.stringify(value));
    }
  });

  it("gives back random strings of quotes, backslashes, blanks, newlines, = and UTF-8", () => {
    const alphabet = [
      '"',
      "\\",
      " ",
      "\t",
      "\n",
      "\r",
      "=",
      "n",
      "r",
      "a",
      "Z",
      "0",
      ".",
      "@",
      "é",
      "😀",
      "'",
    ];
    let seed = 0x2545f491;
    const random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    for (let i = 0; i < 500; i++) {
      const length = Math.floor(random() * 12);
      const value = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
      const line = `sender=${quoteValue(value)} recipient=${quoteValue(value + "!")}`;
      const result = parseAttributes("rcpt", line);
      assert.ok(result.ok, `${JSON.stringify(value)}: ${!result.ok && result.reason}`);
      assert.equal(result.attributes.sender, value, JSON.stringify(value));
      assert.equal(result.attributes.recipient, value + "!", JSON.stringify(value));
    }
  });
});
