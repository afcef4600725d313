// Converters for [spf] values whose syntax is ours: the exemption list, sender domains, DNS servers.
import * as v from "valibot";
import { parseCidr } from "../model/ip.ts";
import type { SpfExemptions } from "../model/spf.ts";
import { parseServer } from "../dns/resolv-conf.ts";
import { parsedBy } from "./limit-values.ts";

const DOMAIN = /^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const items = (text: string) => text.split(/[,\s]+/).map((item) => item.trim()).filter(Boolean);

/** "authenticated, 127.0.0.0/8, ::1, 192.0.2.0/24" */
export function parseSpfExemptions(text: string): SpfExemptions | string {
  const exempt: SpfExemptions = { authenticated: false, cidrs: [] };
  for (const item of items(text.toLowerCase())) {
    if (item === "authenticated") {
      exempt.authenticated = true;
      continue;
    }
    const cidr = parseCidr(item);
    if (cidr === undefined) return `'${item}' is not "authenticated", an address or a network`;
    exempt.cidrs.push(cidr);
  }
  return exempt;
}

/** "example.org, lists.example.net" (a leading @ is allowed) */
export function parseDomainList(text: string): string[] | string {
  const domains: string[] = [];
  for (const item of items(text.toLowerCase())) {
    const domain = item.replace(/^@/, "").replace(/\.$/, "");
    if (!DOMAIN.test(domain)) return `'${item}' is not a domain`;
    domains.push(domain);
  }
  return domains;
}

/** "127.0.0.1, [::1]:5353, 192.0.2.53:53" */
export function parseDnsServers(text: string): string[] | string {
  const servers = items(text);
  if (servers.length === 0) return "name at least one server, or leave the key out for /etc/resolv.conf";
  for (const server of servers) {
    try {
      parseServer(server);
    } catch {
      return `'${server}' is not HOST, HOST:PORT or [IPV6]:PORT`;
    }
  }
  return servers;
}

export const spfExemptionList = v.pipe(v.string(), parsedBy(parseSpfExemptions));
export const domainList = v.pipe(v.string(), parsedBy(parseDomainList));
export const dnsServerList = v.pipe(v.string(), parsedBy(parseDnsServers));
