// [content] and the [rule NAME] sections as the content concern reads them (model/content.ts), after the
// checks that span several keys.
import type { ContentPolicy, ContentRule, RuleCondition } from "../model/content.ts";
import type { CONTENT_SECTION, RULE_SECTION, SectionValues } from "./schema.ts";

type Report = (line: number, key: string, problem: string) => void;
const CONDITIONS = ["subject", "subject_prefix", "recipients", "attachments"] as const;

/**
 * A [rule NAME] section's values as a rule; undefined (reported) when it is not one. `entries`: the keys
 * the section has with their lines, valid or not (an invalid value has been reported already: it still
 * counts as given). `line`: the section's own.
 */
export function buildRule(
  name: string,
  values: SectionValues<typeof RULE_SECTION>,
  entries: ReadonlyArray<{ key: string; line: number }>,
  line: number,
  report: Report,
): ContentRule | undefined {
  const section = `[rule ${name}]`;
  if (!/^[a-z0-9_.-]+$/.test(name)) {
    report(line, section, "rule names use a-z, 0-9, _ . -");
    return undefined;
  }
  const conditions = entries.filter((entry) => (CONDITIONS as readonly string[]).includes(entry.key));
  const given = CONDITIONS.filter((key) => conditions.some((entry) => entry.key === key));
  if (given.length !== 1) {
    const which = given.length === 0 ? "none" : given.join(" and ");
    const problem = `give exactly one of ${CONDITIONS.join(", ")} (found ${which})`;
    // None: the section's line. Two or more: the line of the first that conflicts with one before it.
    const second = conditions.find((entry) => entry.key !== conditions[0].key);
    if (second === undefined) report(line, section, problem);
    else report(second.line, `rule ${name}.${second.key}`, problem);
    return undefined;
  }
  if (values[given[0]] === undefined) return undefined; // its problem is reported
  return {
    name,
    symbol: name.toUpperCase().replace(/[.-]/g, "_"),
    condition: conditionOf(values),
    score: values.score,
    action: values.action,
    message: values.message,
  };
}

function conditionOf(values: SectionValues<typeof RULE_SECTION>): RuleCondition {
  if (values.subject !== undefined) return { kind: "subject", pattern: values.subject };
  if (values.subject_prefix !== undefined) {
    return { kind: "subject_prefix", prefix: values.subject_prefix.toLowerCase() };
  }
  if (values.recipients !== undefined) return { kind: "recipients", ...values.recipients };
  return { kind: "attachments", ...values.attachments! };
}

export function contentPolicy(
  values: SectionValues<typeof CONTENT_SECTION>,
  rules: ContentRule[],
): ContentPolicy {
  return {
    maxScanSize: values.max_scan_size,
    maxDepth: values.max_depth,
    maxParts: values.max_parts,
    zip: values.zip,
    zipMaxDepth: values.zip_max_depth,
    zipMaxBytes: values.zip_max_bytes,
    zipMaxEntries: values.zip_max_entries,
    zipMaxMessageEntries: values.zip_max_message_entries,
    executableExtensions: new Set(values.executable_extensions),
    rules,
  };
}
