// The `timeout` of concern sections, read from a config's text without loading the whole file: the Exim
// and Postfix snippets size the MTA's own wait above them (postfix/snippet.ts, exim/spamd-snippet.ts), and
// a typo elsewhere in the file must not stop a snippet. Pure.
import * as v from "valibot";
import type { IniDocument } from "./ini.ts";
import type { KeySpec } from "./schema.ts";

export interface ConcernTimeout {
  /** The section's name. */
  name: string;
  spec: { timeout: KeySpec };
  /** Counted with its default when the file has no such section (the limits always answer). */
  always?: boolean;
}

/**
 * Each concern's timeout in ms: the section's value, or its default when the section has none (or is
 * absent and `always`). A value that does not parse is left out: config-test reports it, and the daemon
 * does not start with it.
 */
export function concernTimeouts(
  document: IniDocument | undefined,
  concerns: readonly ConcernTimeout[],
): number[] {
  const timeouts: number[] = [];
  for (const { name, spec, always } of concerns) {
    const section = document?.sections.find((found) => found.name === name);
    if (section === undefined && !always) continue;
    const raw = section?.entries.find((entry) => entry.key === "timeout")?.value ?? spec.timeout.default;
    const parsed = v.safeParse(spec.timeout.schema, raw);
    if (parsed.success) timeouts.push(parsed.output as number);
  }
  return timeouts;
}
