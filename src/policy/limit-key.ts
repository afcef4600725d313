// Which key a request is counted under for a limit, whether the limit applies at all, and exemptions.
import { KEY_KINDS, type KeyPart, type LimitConfig } from "../model/limit.ts";
import { cidrContains, ipPrefix, parseIp } from "../model/ip.ts";
import type { PolicyRequest } from "./request.ts";
import type { Attributes, Stage } from "../protocols/attributes.ts";
import { unsharedText } from "./unshared-text.ts";
import { withoutNeedlessQuotes } from "../model/mailbox.ts";

function domainOf(address: string): string | undefined {
  const at = address.lastIndexOf("@");
  return at > 0 && at < address.length - 1 ? address.slice(at + 1) : undefined;
}

// The sender of the request last asked about: its limits (often several) and exemptions each ask.
let senderOf: Attributes | undefined;
let senderKey: string | undefined;

/**
 * The request's sender as limits count it: lower case, trimmed, its local part unquoted where the quotes
 * change nothing (model/mailbox.ts), "<>" for the empty (bounce) sender.
 */
export function requestSender(attributes: Attributes): string | undefined {
  if (attributes === senderOf) return senderKey;
  const value = attributes.sender;
  const clean = value === undefined
    ? undefined
    : isCanonical(value)
    ? value
    : withoutNeedlessQuotes(value.trim().toLowerCase());
  senderOf = attributes;
  senderKey = clean === "" ? "<>" : clean;
  return senderKey;
}

// Nearly every address arrives lower-case, unpadded and unquoted: one scan spares trim(), toLowerCase() and
// the unquoting, which together were a tenth of the counting time.
function isCanonical(value: string): boolean {
  const length = value.length;
  if (length === 0) return false;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c <= 0x20 || c >= 0x7f || c === 0x22) return false;
  }
  return true;
}

function nonEmpty(value: string | undefined): string | undefined {
  const clean = value?.trim().toLowerCase();
  return clean ? clean : undefined;
}

/** One key part's value, or undefined when the request lacks it (then the limit does not apply). */
function partValue(part: KeyPart, attributes: Attributes): string | undefined {
  switch (part.kind) {
    case "sender":
      return requestSender(attributes);
    case "sender_domain": {
      const address = requestSender(attributes);
      return address && address !== "<>" ? domainOf(address) : undefined;
    }
    case "sasl_username":
      return nonEmpty(attributes.sasl_username);
    case "recipient":
      return nonEmpty(attributes.recipient);
    case "recipient_domain": {
      const address = nonEmpty(attributes.recipient);
      return address ? domainOf(address) : undefined;
    }
    case "helo_name":
      return nonEmpty(attributes.helo_name);
    case "local_user":
      return nonEmpty(attributes.local_user);
    case "client_address":
      return attributes.client_address ? clientKey(attributes.client_address, part) : undefined;
  }
}

// Parsing and formatting an address for every request showed in the profile (docs/decisions.md,
// "Measured on the request path"); the same clients come back, so remember the last few thousand answers,
// per key part (a reload brings new parts).
const CLIENT_KEY_CACHE_SIZE = 4096;
const clientKeys = new WeakMap<KeyPart, Map<string, string | null>>();

let lastPart: KeyPart | undefined;
let lastCache = new Map<string, string | null>();

function clientKey(address: string, part: KeyPart): string | undefined {
  let cache = part === lastPart ? lastCache : clientKeys.get(part);
  if (!cache) clientKeys.set(part, cache = new Map());
  lastPart = part;
  lastCache = cache;
  const cached = cache.get(address);
  if (cached !== undefined) return cached ?? undefined;
  const ip = parseIp(address);
  let key: string | undefined;
  if (ip && part.v4Prefix === undefined) {
    key = ipPrefix(ip, ip.version === 4 ? 32 : 128).replace(/\/(32|128)$/, "");
  } else if (ip) key = ipPrefix(ip, ip.version === 4 ? part.v4Prefix! : part.v6Prefix!);
  if (cache.size >= CLIENT_KEY_CACHE_SIZE) cache.clear();
  cache.set(unsharedText(address), key ?? null); // not the request's slice: policy/unshared-text.ts
  return key;
}

/**
 * A message submitted on this host (stage `local`) has no SMTP steps: the limits that count a step of a
 * message (mail, rcpt, data) count it once instead; connect and helo limits have nothing to count.
 */
function countsLocal(limitStage: Stage, requestStage: Stage): boolean {
  return requestStage === "local" && limitStage !== "connect" && limitStage !== "helo";
}

/**
 * RFC 5321 allows no address longer than 254 octets, nor a domain (HELO) longer than 255: a longer value
 * is not a sender anyone can have. Such requests share one key per limit, so that they are still counted
 * (and soon over the limit) without a flood of 4 000-byte keys filling the memory.
 */
export const MAX_KEY_PART_LENGTH = 255;
export const TOO_LONG_KEY = "<too-long>";
/** The longest key a limit counts: every kind of part once (config/limit-values.ts), joined with `|`. */
export const MAX_KEY_LENGTH = KEY_KINDS.length * (MAX_KEY_PART_LENGTH + 1) - 1;

const bounded = (value: string | undefined) =>
  value !== undefined && value.length > MAX_KEY_PART_LENGTH ? TOO_LONG_KEY : value;

/**
 * The counting key of `request` under `limit`, or undefined when the limit does not apply to it.
 * anyStage: the key even when the request is for another stage (DATA brings the subject for limits
 * counted at RCPT).
 */
export function limitKey(limit: LimitConfig, request: PolicyRequest, anyStage = false): string | undefined {
  if (request.form === "legacy") return limit.legacy ? bounded(request.key) : undefined;
  if (request.form === "message") return undefined;
  if (request.stage !== limit.stage && !anyStage && !countsLocal(limit.stage, request.stage)) {
    return undefined;
  }
  if (limit.key.length === 1) return bounded(partValue(limit.key[0], request.attributes));
  const values: string[] = [];
  for (const part of limit.key) {
    const value = partValue(part, request.attributes);
    if (value === undefined) return undefined;
    if (value.length > MAX_KEY_PART_LENGTH) return TOO_LONG_KEY;
    values.push(value);
  }
  return values.join("|");
}

/** A login named by an exemption (`local_user:NAME`, `sasl_username:NAME`), as partValue reads it. */
function namedLogin(logins: ReadonlySet<string>, value: string | undefined): boolean {
  if (logins.size === 0) return false;
  const login = nonEmpty(value);
  return login !== undefined && logins.has(login);
}

/**
 * True when the request's login, sender, its domain (or a parent domain) or its client IP is exempt. A limit
 * keyed by local_user holds no sender items (config/limit-exemptions.ts).
 */
export function isExempt(limit: LimitConfig, request: PolicyRequest): boolean {
  const { senders, domains, cidrs, localUsers, saslUsernames } = limit.exempt;
  if (
    senders.size === 0 && domains.length === 0 && cidrs.length === 0 && localUsers.size === 0 &&
    saslUsernames.size === 0
  ) return false;
  if (request.form === "message") return false;
  if (request.form === "attributes") {
    const attributes = request.attributes;
    if (namedLogin(localUsers, attributes.local_user)) return true;
    if (namedLogin(saslUsernames, attributes.sasl_username)) return true;
  }
  const address = request.form === "legacy" ? request.key : requestSender(request.attributes);
  const clientAddress = request.form === "legacy" ? request.key : request.attributes.client_address;
  if (address && senders.has(address)) return true;
  const domain = address ? domainOf(address) : undefined;
  if (domain && domains.some((exempt) => domain === exempt || domain.endsWith(`.${exempt}`))) return true;
  const ip = clientAddress ? parseIp(clientAddress) : undefined;
  return ip !== undefined && cidrs.some((cidr) => cidrContains(cidr, ip));
}

/** How much one request adds: 1, or the message's recipient count for per = recipient at DATA (or local). */
export function requestCost(limit: LimitConfig, request: PolicyRequest): number {
  if (request.form !== "attributes" || limit.per === "message") return 1;
  if (request.stage === "data" || request.stage === "local") {
    const recipients = Number(request.attributes.recipient_count);
    return Number.isInteger(recipients) && recipients > 0 ? recipients : 1;
  }
  return 1;
}
