// Talks to the policy listener the way Exim's ${readsocket} does, through the client `mailpolicyd check`
// uses (src/cli/readsocket-exchange.ts); its options cover the misbehaving clients the daemon must survive.
import {
  type ExchangeOptions,
  type PolicyTarget,
  readsocketExchange,
} from "../../src/cli/readsocket-exchange.ts";

export function askPolicy(target: PolicyTarget, request: string | Uint8Array, options: ExchangeOptions = {}) {
  return readsocketExchange(target, request, { timeoutMs: 10_000, ...options });
}

/** Sends n requests for one key, one connection each, and returns the replies in order. */
export async function askMany(target: PolicyTarget, request: string, n: number): Promise<string[]> {
  const replies: string[] = [];
  for (let i = 0; i < n; i++) replies.push(await askPolicy(target, request));
  return replies;
}
