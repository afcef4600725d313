// The messages a `per = message` counter counted lately, so that the other recipients of any of them add
// nothing: one text, the instances newest first, separated by "\n" (no request can carry a newline in a
// value: Exim's attribute line and Postfix's block both end a value there). One remembered message was not
// enough: a sender with two SMTP sessions at once (a web application's workers, a list manager) interleaves
// the recipients of its messages, and each switch counted a message again (docs/decisions.md, "Messages a
// counter remembers"). The Redis scripts (limits/redis-scripts.ts) do the same in Lua, step for step.

/** How many messages a counter remembers; an older one is forgotten (its late recipients count again). */
export const MESSAGES_REMEMBERED = 8;

const NEWLINE = 10;

/** Whether `instance` is one of the messages in `counted` (undefined or "": none). */
export function holdsInstance(counted: string | undefined, instance: string): boolean {
  if (counted === undefined || instance === "") return false;
  if (counted === instance) return true; // one message, or the newest: the usual case
  for (let at = counted.indexOf(instance); at >= 0; at = counted.indexOf(instance, at + 1)) {
    const end = at + instance.length;
    const startsItem = at === 0 || counted.charCodeAt(at - 1) === NEWLINE;
    if (startsItem && (end === counted.length || counted.charCodeAt(end) === NEWLINE)) return true;
  }
  return false;
}

/** `counted` with `instance` as its newest message, the oldest past MESSAGES_REMEMBERED dropped. */
export function withInstance(counted: string | undefined, instance: string): string {
  return holdsInstance(counted, instance) ? counted! : withNewInstance(counted, instance);
}

/** withInstance for an `instance` the caller found `counted` does not hold: the scan is not made again. */
export function withNewInstance(counted: string | undefined, instance: string): string {
  if (counted === undefined || counted === "") return instance;
  return `${instance}\n${newest(counted, MESSAGES_REMEMBERED - 1)}`;
}

/** The messages of both, `newer`'s first, then `older`'s that `newer` does not hold, at most MESSAGES_REMEMBERED. */
export function mergedInstances(newer: string | undefined, older: string | undefined): string | undefined {
  if (older === undefined || older === "") return newer;
  if (newer === undefined || newer === "") return older;
  let merged = newer;
  let held = count(newer);
  for (const instance of older.split("\n")) {
    if (held >= MESSAGES_REMEMBERED) break;
    if (instance === "" || holdsInstance(merged, instance)) continue;
    merged = `${merged}\n${instance}`;
    held++;
  }
  return merged;
}

/** The first `n` messages of `counted`. */
function newest(counted: string, n: number): string {
  let seen = 0;
  for (let at = counted.indexOf("\n"); at >= 0; at = counted.indexOf("\n", at + 1)) {
    if (++seen === n) return counted.slice(0, at);
  }
  return counted;
}

function count(counted: string): number {
  let n = 1;
  for (let at = counted.indexOf("\n"); at >= 0; at = counted.indexOf("\n", at + 1)) n++;
  return n;
}

/** How many of the messages in `counted` are also in `other` (a message counted on both sides). */
export function sharedMessages(counted: string | undefined, other: string | undefined): number {
  if (counted === undefined || counted === "" || other === undefined || other === "") return 0;
  let shared = 0;
  for (const instance of counted.split("\n")) if (holdsInstance(other, instance)) shared++;
  return shared;
}
