// An [alerts] section as the config loader makes it, for tests that build a transport or an alerter directly.
import type { AlertsConfig } from "../../src/config/types.ts";

/**
 * To boss@example.org through 127.0.0.1:25 with a 5 s smtp_timeout and smtp_command_timeout, retried after
 * 1 s; `more` on top.
 */
export const alertsConfig = (more: Partial<AlertsConfig> = {}): AlertsConfig => ({
  from: "postmaster@example.org",
  to: ["boss@example.org"],
  cc: [],
  subject: "Mail Abuse Alert",
  smtpHost: "127.0.0.1",
  smtpPort: 25,
  smtpTimeoutMs: 5000,
  smtpCommandTimeoutMs: 5000,
  retryMinMs: 1000,
  retryMaxMs: 1000,
  exemptAlerts: true,
  tlsVerify: true,
  ...more,
});
