// HTTP/1.1 for the control listeners, as little of it as the control API needs: one request per
// connection (the answer says `Connection: close`), a head of at most HEAD_BYTES, a body of at most
// BODY_BYTES with a Content-Length (no endpoint takes one; a client may send an empty one). The request
// server (listeners/request-server.ts) carries it, so the control listeners share the policy listeners'
// connection bound, timeouts and lingering: the runtimes' own HTTP servers have no connection bound
// (docs/decisions.md, "The control listeners on the request server"). Pure: bytes in, bytes out.
import { type Framing, lengthKnown } from "../listeners/framing.ts";
import { indexOfBytes } from "../runtime.ts";
import { MAX_KEY_LENGTH } from "../policy/limit-key.ts";

/**
 * A head holds the longest key a limit counts, percent-encoded in the query (`show`, `reset`: at most 9
 * characters a UTF-16 unit, %XX for each of 3 bytes), with room for the request line and headers. At 8 KiB
 * a key of four parts of 255 such characters could be neither shown nor reset.
 */
export const HEAD_BYTES = 9 * MAX_KEY_LENGTH + 1024;
export const BODY_BYTES = 8 * 1024;

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
const HEAD_END = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a);
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/**
 * The body's length for cutting the request: the first Content-Length of up to 15 digits. Any other (more
 * digits, not a number, a second one) cuts at the head, where the parser refuses it; a head that declares
 * a body longer than BODY_BYTES is complete as it is, and refused by the parser too.
 */
const contentLengthOf = (head: string): number => {
  const match = /\r\ncontent-length:[ \t]*(\d{1,15})[ \t]*\r\n/i.exec(head);
  return match ? Number(match[1]) : 0;
};

/**
 * One HTTP request per connection: its head, then Content-Length bytes. The head's end is looked for from
 * where the last look stopped (less the 3 bytes an end may span), so a client sending a byte at a time
 * costs no more search than one sending it whole. No end within HEAD_BYTES: the bytes so far are the
 * request, refused by the parser (431) at once; waiting for maxBytes (HEAD_BYTES + BODY_BYTES), a head a
 * little over HEAD_BYTES sent whole was answered only by the timeout (408), after the CLI had given up.
 */
export class HttpFraming implements Framing {
  readonly persistent = false;
  readonly idleMs = 0;
  readonly halfCloseIsEnd = true; // the bytes so far are answered (a partial request: 400)
  readonly answersTimeout = true; // 408
  readonly maxBytes = HEAD_BYTES + BODY_BYTES;
  // The parser says why (431 for a head over HEAD_BYTES): a reply for any bytes past maxBytes also refused
  // a complete request read in one chunk with more after it (pipelined, a body longer than declared), with
  // "request head over 19447 bytes" for a head of a few dozen.
  readonly overLongReply = undefined;
  readonly busyReply = errorResponse(
    503,
    "too many connections to the control listener",
    "retry-after: 1\r\n",
  );

  requestEnd(bytes: Uint8Array, from: number): number {
    const headEnd = indexOfBytes(
      bytes.length > HEAD_BYTES ? bytes.subarray(0, HEAD_BYTES) : bytes,
      HEAD_END,
      from > 3 ? from - 3 : 0,
    );
    if (headEnd < 0) return bytes.length >= HEAD_BYTES ? bytes.length : -1;
    const length = contentLengthOf(latin1.decode(bytes.subarray(0, headEnd + 2)));
    if (length > BODY_BYTES) return headEnd + 4;
    // The head is not looked for again (it lies before the next call's `from`): its length is known.
    return headEnd + 4 + length <= bytes.length ? headEnd + 4 + length : lengthKnown(headEnd + 4 + length);
  }
}

export interface HttpRequestHead {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: Uint8Array<ArrayBuffer> | undefined;
}

/** The request cut by HttpFraming, or the status and reason it is refused with. */
export function parseHttpRequest(bytes: Uint8Array): HttpRequestHead | { status: number; reason: string } {
  const headEnd = indexOfBytes(bytes, HEAD_END, 0);
  if (headEnd < 0 ? bytes.length >= HEAD_BYTES : headEnd + HEAD_END.length > HEAD_BYTES) {
    return { status: 431, reason: `request head over ${HEAD_BYTES} bytes` };
  }
  if (headEnd < 0) return { status: 400, reason: "incomplete request" };
  const lines = latin1.decode(bytes.subarray(0, headEnd)).split("\r\n");
  const requestLine = /^([A-Z]{1,16}) (\/[\x21-\x7e]*) HTTP\/1\.[01]$/.exec(lines[0]);
  if (!requestLine) return { status: 400, reason: "bad request line" };
  // Bun's Request turns a method it does not know into GET: those are refused here, in both runtimes.
  if (!METHODS.has(requestLine[1])) {
    return { status: 501, reason: `method ${requestLine[1]} not implemented` };
  }
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(line.slice(0, colon))) {
      return { status: 400, reason: "bad header line" };
    }
    headers.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
  }
  if (headers.some(([name]) => name === "transfer-encoding")) {
    return { status: 411, reason: "a body needs a Content-Length" };
  }
  // Every Content-Length, not the first of up to 15 digits: one of 16 or more, `-1`, `5x` or a second that
  // differs read as no body, and a POST /reload declaring more than BODY_BYTES was done (RFC 9112, 6.3).
  const declared = headers.filter(([name]) => name === "content-length").map(([, value]) => value);
  if (declared.some((value) => !/^[0-9]+$/.test(value)) || new Set(declared).size > 1) {
    return { status: 400, reason: "a Content-Length that is not one whole number" };
  }
  const length = declared.length > 0 ? Number(declared[0]) : 0;
  if (length > BODY_BYTES) return { status: 413, reason: `a body over ${BODY_BYTES} bytes` };
  const body = bytes.subarray(headEnd + 4);
  if (body.length < length) return { status: 400, reason: "body shorter than its Content-Length" };
  return {
    method: requestLine[1],
    target: requestLine[2],
    headers,
    body: length > 0 ? body.slice(0, length) : undefined,
  };
}

/** The bytes of a response, its body read whole; a HEAD request's without the body. */
export async function responseBytes(response: Response, method: string): Promise<Uint8Array> {
  const body = new Uint8Array(await response.arrayBuffer());
  let head = `HTTP/1.1 ${response.status} ${response.statusText || reasonPhrase(response.status)}\r\n`;
  for (const [name, value] of response.headers) {
    if (name !== "content-length" && name !== "connection" && name !== "transfer-encoding") {
      head += `${name}: ${value.replace(/[\r\n]/g, " ")}\r\n`;
    }
  }
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  const headBytes = encoder.encode(head);
  if (method === "HEAD") return headBytes;
  const bytes = new Uint8Array(headBytes.length + body.length);
  bytes.set(headBytes);
  bytes.set(body, headBytes.length);
  return bytes;
}

/** A JSON error answer, as the control API gives them ({"error": ...}). */
export function errorResponse(status: number, reason: string, extraHeaders = ""): string {
  const body = JSON.stringify({ error: reason });
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: application/json\r\n` +
    `x-content-type-options: nosniff\r\n${extraHeaders}` +
    `content-length: ${encoder.encode(body).length}\r\nconnection: close\r\n\r\n${body}`;
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  421: "Misdirected Request",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

const reasonPhrase = (status: number): string => REASONS[status] ?? "Status";
