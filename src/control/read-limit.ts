// Rate limits for the control listeners. Every HTTP request is served on the thread that answers Exim;
// on loopback TCP (no file permissions) any local process, or two dashboards left polling, can ask as fast
// as it likes: two loops on that port all but stopped the policy answers (docs/decisions.md, "Measured on
// the request path"). A token bucket per listener (every client is local: there is no address worth telling apart): a
// request within the rate is served at once; one over it waits for its turn, so a polling loop is slowed
// to the rate rather than spun on refusals; when too many already wait, 429 with Retry-After, which costs
// next to nothing. The control socket gets a bucket too, ten times as large: its users are the
// administrators, but a `watch -n 0.1 mailpolicyd status` or a monitoring tool in a tight loop there costs
// the policy path just as much (two loops there took a tenth or more of the thread: same entry).

export interface ReadLimitOptions {
  perSecond: number;
  burst: number;
  /** Requests allowed to wait for a token; more are refused with 429. */
  maxWaiting: number;
  now?: () => number; // ms
}

export interface ReadLimit {
  /** Resolves true when the request may be served (perhaps after a wait), false when it is refused. */
  admit(): Promise<boolean>;
  readonly waiting: number;
}

// The defaults: the dashboard asks /status every 5 s, Prometheus scrapes every 15 s or so, a person runs
// curl; a few requests per second cover them all with room for bursts (a page load and its first fetch).
export const CONTROL_TCP_LIMIT: ReadLimitOptions = { perSecond: 5, burst: 10, maxWaiting: 8 };
// The CLI asks once per command, monit once per cycle; tests and scripts may ask a few dozen times in a
// row, and wait a little beyond the burst rather than being refused.
export const CONTROL_SOCKET_LIMIT: ReadLimitOptions = { perSecond: 50, burst: 50, maxWaiting: 64 };

export function createReadLimit(options: ReadLimitOptions): ReadLimit {
  const now = options.now ?? (() => performance.now());
  let tokens = options.burst;
  let updated = now();
  let waiting = 0;
  // Tokens promised to waiters but not yet due: a waiter's turn is booked when it arrives, so waiters are
  // served in order at the rate and never more than maxWaiting are queued.
  let booked = 0;

  const refill = () => {
    const at = now();
    tokens = Math.min(options.burst, tokens + ((at - updated) / 1000) * options.perSecond);
    updated = at;
  };

  return {
    get waiting() {
      return waiting;
    },
    admit() {
      refill();
      if (booked === 0 && tokens >= 1) {
        tokens -= 1;
        return Promise.resolve(true);
      }
      if (waiting >= options.maxWaiting) return Promise.resolve(false);
      booked++;
      waiting++;
      // The (booked)th token from now: when tokens reaches booked.
      const delayMs = Math.max(0, ((booked - tokens) / options.perSecond) * 1000);
      return new Promise((resolve) => {
        setTimeout(() => {
          refill();
          booked--;
          waiting--;
          tokens -= 1; // may go below zero briefly when timers run late; the next refill makes up for it
          resolve(true);
        }, delayMs);
      });
    },
  };
}
