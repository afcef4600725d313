// The daemon's line at start on how its file limit is shared (descriptor-plan.ts): a warning when the limit
// is too low for the full share, since then DNS queries past the smaller bound end in temperror and
// connections past the listeners' share are closed at once.
import type { Logger } from "../log.ts";
import type { DescriptorPlan } from "./descriptor-plan.ts";

export function logDescriptorPlan(log: Logger, plan: DescriptorPlan): void {
  const fields = {
    file_limit: plan.fileLimit,
    listener_sockets: plan.listenerSockets,
    dns_in_flight: plan.dnsInFlight,
    spamd_connections: plan.spamdConnections,
  };
  if (!plan.short) return log.info("daemon", "open files shared", fields);
  log.warn("daemon", "open-file limit low: fewer sockets for listeners and DNS; raise LimitNOFILE", fields);
}
