// [spamassassin] address naming the daemon's own spamd front ([spamd] listen or socket): the SpamAssassin
// concern would ask the front, whose scan asks the concern again, each level holding a connection to spamd
// until the last waits in the queue; every message then waits out the scan's deadline (18 s by default),
// is never scored by SpamAssassin, and is counted once per level. A site that moves SpamAssassin's spamd
// off 783 and gives the front 783 (so spamc and Exim's spamd_address reach it unchanged) gets this with
// [spamassassin]'s default address. Pure: the config loader reports it.
import type { SpamdAddress } from "./spamassassin-values.ts";
import type { ListenAddress } from "./values.ts";

// The names a client may resolve `localhost` to (Debian's /etc/hosts: both).
const LOCALHOST = ["127.0.0.1", "::1"];

/** Whether `host` reaches the front's `hostname` (a loopback address; `localhost` either of its two). */
function sameHost(host: string, hostname: string): boolean {
  const name = host.toLowerCase();
  return name === hostname || (name === "localhost" && LOCALHOST.includes(hostname));
}

/**
 * Which of the front's own addresses `address` names: "listen", "socket", or undefined for neither. Paths
 * are compared resolved (`socket` already is, `resolve` resolves `address`'s).
 */
export function spamdFrontNamed(
  address: SpamdAddress,
  front: { listen?: ListenAddress; socket?: string },
  resolve: (path: string) => string,
): "listen" | "socket" | undefined {
  if ("path" in address) {
    return front.socket !== undefined && resolve(address.path) === front.socket ? "socket" : undefined;
  }
  const listen = front.listen;
  if (listen === undefined || listen.port === 0) return undefined;
  return address.port === listen.port && sameHost(address.host, listen.hostname) ? "listen" : undefined;
}
