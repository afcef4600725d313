// How the process's open files are shared out, so that no socket it opens fails for lack of one: the
// listeners' sockets, the SPF concern's DNS queries (one UDP socket each), spamd's connections (one per
// scan in flight), and RESERVED_FILES for the rest. Pure: the file limit and spamd's figure are given.

// The runtime's own (Bun 9, Deno 27), the state and log files, Redis's connections, the alert relay's.
export const RESERVED_FILES = 64;
// DNS queries in flight at most: each holds a UDP socket for up to dns_timeout. 256 waiting on a DNS
// server that does not answer are already far past what the SPF timeout lets through.
const DNS_IN_FLIGHT = 256;
// Below this many sockets for the listeners (with DNS shrunk to leave them it), the file limit is too low.
const MIN_LISTENER_SOCKETS = 64;

export interface DescriptorPlan {
  fileLimit: number;
  /** The sockets all the listeners may hold together (connection-bound.ts, connectionBudget). */
  listenerSockets: number;
  /** The DNS client's distinct queries in flight at most (resolver.ts, maxInFlight). */
  dnsInFlight: number;
  /** Reserved for spamd's connections: [spamassassin] max_in_flight at start, 0 without the section. */
  spamdConnections: number;
  /** The file limit left DNS less than DNS_IN_FLIGHT, or the listeners less than their minimum. */
  short: boolean;
}

export function descriptorPlan(fileLimit: number, spamdConnections: number): DescriptorPlan {
  const shared = fileLimit - RESERVED_FILES - spamdConnections;
  const dnsInFlight = Math.max(1, Math.min(DNS_IN_FLIGHT, shared - MIN_LISTENER_SOCKETS));
  const listenerSockets = Math.max(MIN_LISTENER_SOCKETS, shared - dnsInFlight);
  return {
    fileLimit,
    listenerSockets,
    dnsInFlight,
    spamdConnections,
    short: dnsInFlight < DNS_IN_FLIGHT || shared - dnsInFlight < MIN_LISTENER_SOCKETS,
  };
}
