// docs/configuration.md restates every key's default for the reader; the schema (config/schema.ts) is where
// the defaults live. This keeps the two tables from drifting apart: each key of a section is in its table,
// and a default the schema has is the one the table shows.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  ALERTS_SECTION,
  CONTENT_SECTION,
  DAEMON_SECTION,
  LIMIT_SECTION,
  LIMITS_SECTION,
  POSTFIX_SECTION,
  REDIS_SECTION,
  RULE_SECTION,
  type SectionSpec,
  SPAMASSASSIN_SECTION,
  SPAMD_SECTION,
  SPF_SECTION,
  THRESHOLDS_SECTION,
} from "../../../src/config/schema.ts";

const DOC = readFileSync(fileURLToPath(new URL("../../../docs/configuration.md", import.meta.url)), "utf8");

/** The "| `key` | default | meaning |" rows under a "## HEADING", keyed by the key in lower case. */
function documentedDefaults(heading: string): Map<string, string> {
  const start = DOC.indexOf(`\n## ${heading}\n`);
  assert.notEqual(start, -1, `docs/configuration.md has no "## ${heading}"`);
  const end = DOC.indexOf("\n## ", start + 1);
  const rows = new Map<string, string>();
  for (const line of DOC.slice(start, end === -1 ? undefined : end).split("\n")) {
    const cells = /^\|\s*`([A-Za-z_]+)`\s*\|\s*([^|]*?)\s*\|/.exec(line);
    if (cells) rows.set(cells[1].toLowerCase(), cells[2]);
  }
  return rows;
}

function assertTableMatches(heading: string, spec: SectionSpec): void {
  const rows = documentedDefaults(heading);
  for (const [key, keySpec] of Object.entries(spec)) {
    const shown = rows.get(key);
    assert.notEqual(shown, undefined, `${heading} ${key}: not in docs/configuration.md`);
    if (keySpec.required) assert.equal(shown, "(required)", `${heading} ${key}`);
    else if (keySpec.default) assert.equal(shown, `\`${keySpec.default}\``, `${heading} ${key}`);
  }
}

describe("docs/configuration.md defaults", () => {
  it("[daemon] shows the schema's defaults", () => assertTableMatches("[daemon]", DAEMON_SECTION));
  it("[thresholds] shows the schema's defaults", () =>
    assertTableMatches("[thresholds]", THRESHOLDS_SECTION));
  it("[limit NAME] shows the schema's defaults", () => assertTableMatches("[limit NAME]", LIMIT_SECTION));
  it("[alerts] shows the schema's defaults", () => assertTableMatches("[alerts]", ALERTS_SECTION));
  it("[limits] shows the schema's defaults", () => assertTableMatches("Concerns: [limits]", LIMITS_SECTION));
  it("[spf] shows the schema's defaults", () => assertTableMatches("[spf]", SPF_SECTION));
  it("[spamassassin] shows the schema's defaults", () =>
    assertTableMatches("[spamassassin]", SPAMASSASSIN_SECTION));
  it("[postfix] shows the schema's defaults", () => assertTableMatches("[postfix]", POSTFIX_SECTION));
  it("[content] shows the schema's defaults", () => assertTableMatches("[content]", CONTENT_SECTION));
  it("[rule NAME] shows the schema's defaults", () => assertTableMatches("[rule NAME]", RULE_SECTION));
  it("[spamd] shows the schema's defaults", () => assertTableMatches("[spamd]", SPAMD_SECTION));
  it("[redis] shows the schema's defaults", () => assertTableMatches("[redis]", REDIS_SECTION));
});
