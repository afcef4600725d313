import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import * as v from "valibot";
import { parseIni } from "./ini.ts";
import { SECTIONS, type SectionSpec } from "./schema.ts";
import type { AlertsConfig, Config, DaemonConfig, LimitConfig } from "./types.ts";

export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: string[] };

type Values = Record<string, unknown>;

/** Converts one section's entries with its spec; returns typed values keyed by spec name. */
function readSection(
  spec: SectionSpec,
  section: {
    name: string;
    line: number;
    entries: { key: string; rawKey: string; value: string; line: number }[];
  },
  report: (line: number, key: string, problem: string) => void,
): Values {
  const values: Values = {};
  for (const entry of section.entries) {
    const keySpec = spec[entry.key];
    if (!keySpec) {
      report(
        entry.line,
        `${section.name}.${entry.rawKey}`,
        `unknown key (known: ${Object.keys(spec).join(", ")})`,
      );
      continue;
    }
    const parsed = v.safeParse(keySpec.schema, entry.value);
    if (parsed.success) values[entry.key] = parsed.output;
    else report(entry.line, `${section.name}.${entry.rawKey}`, parsed.issues[0].message);
  }
  for (const [key, keySpec] of Object.entries(spec)) {
    if (key in values) continue;
    if (keySpec.required) {
      if (!section.entries.some((entry) => entry.key === key)) {
        report(section.line, `${section.name}.${key}`, "required key missing");
      }
    } else if (keySpec.default !== undefined) {
      values[key] = v.parse(keySpec.schema, keySpec.default);
    }
  }
  return values;
}

/** Parses config text. Relative paths resolve against baseDir (the config file's folder, or cwd). */
export function parseConfig(text: string, file: string, baseDir: string): ConfigResult {
  const errors: string[] = [];
  const report = (line: number, key: string, problem: string) =>
    errors.push(`${file}:${line}: ${key}: ${problem}`);
  const document = parseIni(text);
  for (const problem of document.problems) report(problem.line, problem.key, problem.problem);

  const found = new Map(document.sections.map((section) => [section.name, section]));
  for (const section of document.sections) {
    if (!SECTIONS[section.name]) {
      report(
        section.line,
        `[${section.name}]`,
        `unknown section (known: ${Object.keys(SECTIONS).join(", ")})`,
      );
    }
  }
  const empty = (name: string) => ({ name, line: 0, entries: [] });
  const daemonValues = readSection(SECTIONS.daemon, found.get("daemon") ?? empty("daemon"), report);
  const alertsSection = found.get("alerts");
  const alertsValues = alertsSection ? readSection(SECTIONS.alerts, alertsSection, report) : undefined;
  const thresholds = readSection(SECTIONS.thresholds, found.get("thresholds") ?? empty("thresholds"), report);
  if (errors.length > 0) return { ok: false, errors };

  const path = (value: unknown) => resolve(baseDir, value as string);
  const daemon: DaemonConfig = {
    policySocket: path(daemonValues.policy_socket),
    controlSocket: path(daemonValues.control_socket),
    pidfile: path(daemonValues.pidfile),
    stateFile: path(daemonValues.state_file),
    stateIntervalMs: daemonValues.state_interval as number,
    socketMode: daemonValues.socket_mode as number,
    logLevel: daemonValues.log_level as DaemonConfig["logLevel"],
    requestTimeoutMs: daemonValues.request_timeout as number,
    failMode: daemonValues.fail_mode as DaemonConfig["failMode"],
  };
  const alerts: AlertsConfig | undefined = alertsValues && {
    from: alertsValues.fromaddr as string,
    to: alertsValues.toaddr as string[],
    cc: alertsValues.ccaddr as string[],
    subject: alertsValues.subject as string,
    smtpHost: alertsValues.smtp_host as string,
    smtpPort: alertsValues.smtp_port as number,
    smtpTimeoutMs: alertsValues.smtp_timeout as number,
    sendmail: alertsValues.sendmail === undefined ? undefined : path(alertsValues.sendmail),
    retryMinMs: alertsValues.retry_min as number,
    retryMaxMs: Math.max(alertsValues.retry_max as number, alertsValues.retry_min as number),
  };
  const limits: LimitConfig[] = [{
    name: "thresholds",
    key: "sender",
    count: thresholds.count as number,
    windowMs: thresholds.time as number,
  }];
  return { ok: true, config: { file, daemon, alerts, limits } };
}

export function loadConfigFile(file: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return { ok: false, errors: [`${file}:0: (file): cannot read: ${(error as Error).message}`] };
  }
  return parseConfig(text, file, dirname(resolve(file)));
}
