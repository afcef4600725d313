// The [spf] policy the SPF unit tests start from: a bare [spf] section's (the schema's defaults), with an
// exempt network and domain added.
import { parseConfig } from "../../../src/config/load.ts";
import type { SpfPolicy } from "../../../src/model/spf.ts";
import { parseCidr } from "../../../src/model/ip.ts";

const parsed = parseConfig("[spf]\n", "spf-policy", "/tmp");
if (!parsed.ok) throw new Error(parsed.errors.join("\n"));

export const POLICY: SpfPolicy = {
  ...parsed.config.spf!,
  exempt: { authenticated: true, cidrs: [parseCidr("127.0.0.0/8")!, parseCidr("2001:db8:1::/48")!] },
  exemptDomains: ["lists.example.net"],
};
