// JSON written straight into UTF-8 bytes. The state file holds a row per tracked key and is saved every few
// seconds: building a string per row (then joining and encoding them) made ~80 MB of garbage per save at a
// million keys, which is what pushed RSS past the live data. Plain ASCII strings and whole numbers, nearly
// every value, are written byte by byte; anything else goes through JSON.stringify.

const encoder = new TextEncoder();
const digits = new Uint8Array(24);

export class JsonBytes {
  private buffer: Uint8Array;
  length = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buffer = new Uint8Array(initialBytes);
  }

  /** What was written so far (a view: copy it before writing more). */
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }

  private room(bytes: number): void {
    if (this.length + bytes > this.buffer.length) this.buffer = grown(this.bytes(), this.length + bytes);
  }

  /** Text known to be JSON already and ASCII: punctuation, `null`, literals. */
  raw(text: string): this {
    this.room(text.length);
    const buffer = this.buffer;
    let at = this.length;
    for (let i = 0; i < text.length; i++) buffer[at++] = text.charCodeAt(i);
    this.length = at;
    return this;
  }

  /** Any JSON value the slow way: JSON.stringify, then encoded. */
  value(value: unknown): this {
    const text = JSON.stringify(value) ?? "null";
    this.room(text.length * 3);
    this.length += encoder.encodeInto(text, this.buffer.subarray(this.length)).written;
    return this;
  }

  string(value: string): this {
    this.room(value.length + 2);
    const buffer = this.buffer;
    let at = this.length;
    buffer[at++] = 0x22;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      // Control characters, quote, backslash and anything beyond ASCII need escaping or encoding.
      if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return this.value(value);
      buffer[at++] = c;
    }
    buffer[at++] = 0x22;
    this.length = at;
    return this;
  }

  /** One byte of JSON punctuation: a comma or a bracket is most of what a row is made of. */
  byte(code: number): this {
    this.room(1);
    this.buffer[this.length++] = code;
    return this;
  }

  number(value: number): this {
    if (!Number.isSafeInteger(value)) return this.value(Number.isFinite(value) ? value : null);
    this.room(17);
    const buffer = this.buffer;
    let at = this.length;
    let rest = value;
    if (rest < 0) {
      buffer[at++] = 0x2d;
      rest = -rest;
    }
    // Millisecond timestamps have 13 digits: split them so the digit loops run on small integers, which
    // the engine keeps in registers, rather than on doubles with a Math.floor per digit.
    if (rest >= 1e8) {
      const high = Math.floor(rest / 1e8);
      at = writeDigits(buffer, at, high, 0);
      at = writeDigits(buffer, at, rest - high * 1e8, 8);
    } else at = writeDigits(buffer, at, rest, 0);
    this.length = at;
    return this;
  }
}

/** A buffer of at least `needed` bytes (doubling) that starts with `written`. */
export function grown(written: Uint8Array, needed: number): Uint8Array {
  let size = Math.max(written.buffer.byteLength, 1) * 2;
  while (size < needed) size *= 2;
  const buffer = new Uint8Array(size);
  buffer.set(written);
  return buffer;
}

/** The decimal digits of an integer below 2^31, left-padded with zeros to `width`; returns the new end. */
function writeDigits(buffer: Uint8Array, at: number, value: number, width: number): number {
  let rest = value | 0;
  let count = 0;
  do {
    digits[count++] = 0x30 + rest % 10;
    rest = (rest / 10) | 0;
  } while (rest > 0);
  while (count < width) digits[count++] = 0x30;
  while (count > 0) buffer[at++] = digits[--count];
  return at;
}
