// A copy of a string with characters of its own, for what is kept after the request that brought it.
//
// A value sliced from a request (a sender, a Postfix instance, a client address) may share the request's
// characters: JavaScriptCore and V8 both make substrings that point into the string they were cut from,
// and whether a runtime shares or copies depends on the length and on what was done with the string since.
// Kept in a table, such a key held its whole request alive: the compiled daemon's RSS grew by 1 237 bytes a
// sender over the bench's Postfix blocks, 591 with copies (docs/decisions.md, "A kept string holds its
// request"). A UTF-8 round trip
// through a scratch buffer always makes a new string: ~0.1 µs for a sender address, paid only where a
// string is kept (a new key, a new sighting, a counted message's instance).

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // a leading U+FEFF stays in the copy
const scratch = new Uint8Array(1024); // UTF-8 takes at most 3 bytes per UTF-16 code unit

// deno-lint-ignore no-explicit-any
const wellFormed = (text: string): boolean => (text as any).isWellFormed();

/** `text`'s characters in a string that shares none with another. */
export function unsharedText(text: string): string {
  if (text.length === 0) return "";
  // UTF-8 cannot carry a lone surrogate (it would come back as U+FFFD): such a text is copied a code unit
  // at a time, slower but rare (no request decoder makes a lone surrogate).
  if (!wellFormed(text)) return text.split("").join("");
  if (text.length * 3 > scratch.length) return decoder.decode(encoder.encode(text)); // a long subject
  const { written } = encoder.encodeInto(text, scratch);
  return decoder.decode(scratch.subarray(0, written));
}

export interface LastCopy {
  /** unsharedText(text), or the copy made last when `text` is the same text again. */
  of(text: string): string;
  /** Forgets the last text, so that no request stays alive through it. */
  forget(): void;
}

/** unsharedText with a memory of one: the limits one request counts in share one copy of its key. */
export function lastCopy(): LastCopy {
  let last: string | undefined;
  let copy = "";
  return {
    of(text) {
      if (text !== last) copy = unsharedText(last = text);
      return copy;
    },
    forget() {
      last = undefined;
    },
  };
}
