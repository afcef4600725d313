import { type LimitConfig, noExemptions } from "../../src/model/limit.ts";

/** A [limit outbound] as the loader builds it with the documented defaults, count 20 per 5 minutes. */
export function limitConfig(overrides: Partial<LimitConfig> = {}): LimitConfig {
  return {
    name: "outbound",
    key: [{ kind: "sender" }],
    keyText: "sender",
    count: 20,
    windowMs: 300_000,
    window: "5m",
    per: "message",
    algorithm: "fixed",
    burst: 20,
    mode: "leaky",
    action: "defer",
    exempt: noExemptions(),
    stage: "rcpt",
    alert: true,
    legacy: false,
    ...overrides,
  };
}
