// The order in which one query asks the servers: the configured (resolv.conf) order, except that a server
// whose last try got no answer at all (a timeout, a socket error) is asked after the others for a while.
// Without it a dead first nameserver cost every query a whole try before the next server was asked, and
// with [spf]'s defaults (500 ms a try, a 1.35 s check) a check of a few queries ran out of time: every
// check a temperror for as long as the first server was down. Pure: the clock is passed in.
import type { Server } from "./types.ts";

/**
 * How long a server that gave no answer is asked after the others. Then it is asked first again: a server
 * back up regains its place, and a server still dead costs one try a minute, not one a query.
 */
export const SERVER_HOLD_MS = 60_000;

/** Told when a server is held back (not while it already is): the server and the try's error code. */
export type ServerHeld = (server: Server, error: string) => void;

export class ServerOrder {
  readonly #servers: readonly Server[];
  readonly #now: () => number;
  readonly #onHeld: ServerHeld | undefined;
  /** When each held-back server last gave no answer (ms on the clock), by index in `servers`. */
  readonly #silentSince = new Map<number, number>();

  /** `onHeld` is told only with two servers or more: one server alone is asked whatever it did. */
  constructor(servers: readonly Server[], now: () => number, onHeld?: ServerHeld) {
    this.#servers = servers;
    this.#now = now;
    this.#onHeld = servers.length > 1 ? onHeld : undefined;
  }

  /**
   * The servers for one query: those not held back in the configured order, then the held-back ones, the
   * longest silent first (so with every server held back the order still rotates away from the latest).
   */
  servers(): readonly Server[] {
    if (this.#silentSince.size === 0) return this.#servers;
    const now = this.#now();
    const held: [number, number][] = [];
    for (const [index, since] of this.#silentSince) {
      if (now - since >= SERVER_HOLD_MS) this.#silentSince.delete(index);
      else held.push([index, since]);
    }
    if (held.length === 0) return this.#servers;
    held.sort((a, b) => a[1] - b[1]);
    const order = this.#servers.filter((_, index) => !this.#silentSince.has(index));
    for (const [index] of held) order.push(this.#servers[index]);
    return order;
  }

  /** `server`'s try got no reply (`error`: timeout, socket error): hold it back. */
  silent(server: Server, error: string): void {
    const index = this.#servers.indexOf(server);
    if (index < 0) return;
    const now = this.#now();
    const since = this.#silentSince.get(index);
    this.#silentSince.set(index, now);
    // Said once a hold, so a dead server is said once a minute (its one try a minute fails again), not once
    // a query; a server that falls silent while held (the queries already sent to it) is not said again.
    if (since === undefined || now - since >= SERVER_HOLD_MS) this.#onHeld?.(server, error);
  }

  /** `server` replied (with any answer, SERVFAIL included: it is alive): its place is its own again. */
  replied(server: Server): void {
    if (this.#silentSince.size === 0) return;
    const index = this.#servers.indexOf(server);
    if (index >= 0) this.#silentSince.delete(index);
  }
}
