import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import { decode } from "dns-packet";
import {
  checkName,
  decodeReply,
  EDNS_UDP_SIZE,
  encodeQuery,
  isTruncated,
  replyMatches,
} from "../../../src/dns/wire.ts";
import { replyTo } from "./fake-dns.ts";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return "no error";
};

describe("DNS wire format", () => {
  it("encodes a recursive query with EDNS0 at 1232 bytes, or without EDNS", () => {
    const query = decode(Buffer.from(encodeQuery(0x1234, "example.test", "TXT")));
    assert.equal(query.id, 0x1234);
    assert.equal(query.flag_rd, true);
    assert.deepEqual(query.questions, [{ name: "example.test", type: "TXT", class: "IN" }]);
    const opt = query.additionals![0] as { type: string; udpPayloadSize: number };
    assert.equal(opt.type, "OPT");
    assert.equal(opt.udpPayloadSize, EDNS_UDP_SIZE);
    assert.deepEqual(decode(Buffer.from(encodeQuery(1, "example.test", "A", false))).additionals, []);
  });

  it("carries names the runtime resolver refuses, octet for octet", () => {
    for (const name of ["foo:bar/baz.example.com", "macro%percent  space%20url-space.example.com"]) {
      checkName(name, "A");
      assert.equal(decode(Buffer.from(encodeQuery(1, name, "A"))).questions![0].name, name);
    }
  });

  it("refuses names no query can carry with EBADNAME", () => {
    const long = "a".repeat(64);
    for (const name of ["", ".", "a..b", `${long}.example`, `${"abcdefghi.".repeat(26)}com`]) {
      assert.equal(code(() => checkName(name, "A")), "EBADNAME", JSON.stringify(name));
    }
    assert.equal(code(() => checkName(`${"a".repeat(63)}.example.test.`, "A")), "no error");
  });

  it("matches a reply by id and question, letters in any case", () => {
    const query = encodeQuery(77, "Example.Test", "MX");
    assert.equal(replyMatches(query, replyTo(query)), true);
    assert.equal(replyMatches(query, replyTo(query, { name: "eXAMPLE.tEST" })), true);
    assert.equal(replyMatches(query, replyTo(query, { id: 78 })), false, "other id");
    assert.equal(replyMatches(query, replyTo(query, { name: "example.tesu" })), false, "other name");
    assert.equal(replyMatches(query, replyTo(encodeQuery(77, "Example.Test", "A"))), false, "other type");
    assert.equal(replyMatches(query, query), false, "a query is no reply");
    assert.equal(replyMatches(query, replyTo(query).subarray(0, 20)), false, "cut short");
  });

  it("reads the TC bit", () => {
    const query = encodeQuery(5, "example.test", "TXT");
    assert.equal(isTruncated(replyTo(query, { truncated: true })), true);
    assert.equal(isTruncated(replyTo(query)), false);
  });

  it("reports an undecodable reply as EBADRESP", () => {
    // The header promises one answer record; the packet ends after the question.
    const reply = replyTo(encodeQuery(5, "example.test", "A"));
    reply[7] = 1;
    assert.equal(
      code(() => decodeReply(reply, "A", "example.test")),
      "EBADRESP",
    );
  });
});
