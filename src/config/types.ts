import type { LogLevel } from "../log.ts";

export interface DaemonConfig {
  policySocket: string;
  controlSocket: string;
  pidfile: string;
  stateFile: string;
  stateIntervalMs: number;
  socketMode: number;
  logLevel: LogLevel;
  requestTimeoutMs: number;
  failMode: "open" | "closed";
}

export interface AlertsConfig {
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  smtpHost: string;
  smtpPort: number;
  smtpTimeoutMs: number;
  sendmail?: string;
  retryMinMs: number;
  retryMaxMs: number;
}

/** One named limit; the seed's [thresholds] becomes the limit named "thresholds". */
export interface LimitConfig {
  name: string;
  key: "sender";
  count: number;
  windowMs: number;
}

export interface Config {
  file: string; // where it was read from, "(embedded)" for the built-in default
  daemon: DaemonConfig;
  alerts?: AlertsConfig; // absent: threshold crossings are logged, no mail is sent
  limits: LimitConfig[];
}
