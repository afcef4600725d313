// `mailpolicyd exim-snippet`: prints the Exim configuration for the policy listener's TCP address,
// taken from --listen or from the config's policy_listen. exim-setup finds its address the same way.
import * as v from "valibot";
import { socketPathsFrom } from "../config/socket-paths.ts";
import { loopbackAddress } from "../config/values.ts";
import { spamdAddressFromConfig } from "../exim/spamd-snippet.ts";
import {
  eximAddress,
  eximSnippet,
  formatSnippet,
  legacySnippet,
  type SnippetVariant,
} from "../exim/snippets.ts";

export interface SnippetAddressOptions {
  listen?: string;
  config: string;
}

/**
 * Exim's readsocket spec for the snippets, and the spamd front's spamd_address when the config has [spamd];
 * or why there is none (a usage error, or a config problem).
 */
export function snippetAddress(
  options: SnippetAddressOptions,
): { spec: string; spamd?: string } | { usage: string } | { problem: string } {
  const spamd = spamdAddressFromConfig(options.config);
  if (options.listen !== undefined) {
    const parsed = v.safeParse(loopbackAddress, options.listen);
    if (!parsed.success) return { usage: `--listen: ${parsed.issues[0].message}` };
    return { spec: eximAddress(parsed.output), spamd };
  }
  const paths = socketPathsFrom(options.config);
  if (paths.policyListenProblem) return { problem: paths.policyListenProblem };
  const address = paths.policyListen;
  if (!address || address.port === 0) {
    return {
      problem: `${options.config} has no fixed policy_listen address, which the Exim snippets need ` +
        `(Exim must not use the Unix socket: see docs/exim.md); set policy_listen or give --listen`,
    };
  }
  return { spec: eximAddress(address), spamd };
}

/** Exit code, or a usage problem for the caller to print with the command's help. */
export function eximSnippetCommand(
  variant: SnippetVariant | "legacy",
  options: SnippetAddressOptions,
): number | { usage: string } {
  const address = snippetAddress(options);
  if ("usage" in address) return address;
  if ("problem" in address) {
    process.stderr.write(`mailpolicyd: ${address.problem}\n`);
    return 1;
  }
  process.stdout.write(
    variant === "legacy"
      ? legacySnippet(address.spec)
      : formatSnippet(eximSnippet(variant, address.spec, undefined, address.spamd)),
  );
  return 0;
}
