// How the alert mail's SMTP session with the relay is protected (docs/decisions.md, "Alert mail"). Without
// credentials: STARTTLS when offered, the certificate not checked, and plaintext when TLS cannot start (the
// default relay is the local MTA, often with a snakeoil certificate). With credentials (SMTP AUTH) to a relay
// off loopback, the password must not cross the network in clear nor go to whoever answers in the relay's
// place: STARTTLS is required, with no plaintext fallback, and the certificate is checked unless tls_verify =
// no. Pure: alert-transport.ts makes the session from the answer.
import { parseIp } from "./ip.ts";

export interface RelaySecurity {
  /** STARTTLS must succeed, or nothing is sent (the attempt fails for now and is retried). */
  tlsRequired: boolean;
  /** Check the relay's certificate (against tls_ca_file, or the system's CAs) and its name. */
  verifyCertificate: boolean;
}

/**
 * True for a relay on this host's loopback: 127.0.0.0/8, ::1 (also as IPv4-mapped or in brackets) and
 * `localhost` (resolved to loopback by every resolver that follows RFC 6761). A name is not resolved here:
 * one that points to 127.0.0.1 counts as off loopback, so it gets the stricter treatment.
 */
export function relayOnLoopback(host: string): boolean {
  const name = host.trim().toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  const ip = parseIp(name);
  if (!ip) return false;
  if (ip.version === 4) return ip.bytes[0] === 127;
  return ip.bytes.subarray(0, 15).every((byte) => byte === 0) && ip.bytes[15] === 1;
}

/** What of [alerts] (config/types.ts, AlertsConfig) decides it: the relay, whether a login is set, tls_verify. */
export interface RelaySettings {
  smtpHost: string;
  auth?: unknown;
  tlsVerify: boolean;
}

export function relaySecurity(alerts: RelaySettings): RelaySecurity {
  const guarded = alerts.auth !== undefined && !relayOnLoopback(alerts.smtpHost);
  return { tlsRequired: guarded, verifyCertificate: guarded && alerts.tlsVerify };
}
