// `mailpolicyd exim-snippet`: prints the Exim configuration for the policy listener's TCP address,
// taken from --listen or from the config's policy_listen.
import * as v from "valibot";
import { socketPathsFrom } from "../config/socket-paths.ts";
import { loopbackAddress } from "../config/values.ts";
import {
  eximAddress,
  eximSnippet,
  formatSnippet,
  legacySnippet,
  type SnippetVariant,
} from "../exim/snippets.ts";

export interface EximSnippetOptions {
  listen?: string;
  config: string;
}

/** Exit code, or a usage problem for the caller to print with the command's help. */
export function eximSnippetCommand(
  variant: SnippetVariant | "legacy",
  options: EximSnippetOptions,
): number | { usage: string } {
  let address;
  if (options.listen !== undefined) {
    const parsed = v.safeParse(loopbackAddress, options.listen);
    if (!parsed.success) return { usage: `--listen: ${parsed.issues[0].message}` };
    address = parsed.output;
  } else {
    address = socketPathsFrom(options.config).policyListen;
    if (!address || address.port === 0) {
      process.stderr.write(
        `mailpolicyd: ${options.config} has no fixed policy_listen address, which the Exim snippets ` +
          `need (Exim must not use the Unix socket: see docs/exim.md); set policy_listen or give --listen\n`,
      );
      return 1;
    }
  }
  const spec = eximAddress(address);
  process.stdout.write(
    variant === "legacy" ? legacySnippet(spec) : formatSnippet(eximSnippet(variant, spec)),
  );
  return 0;
}
