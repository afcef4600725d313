import { existsSync } from "node:fs";
import { EMBEDDED_CONFIG, EMBEDDED_CONFIG_NAME } from "../config/defaults.ts";
import { type ConfigResult, loadConfigFile, parseConfig } from "../config/load.ts";

/** Reads the config a command names: a file, or the embedded default (paths under the cwd). */
export function readConfig(source: { file?: string; embedded?: boolean }): ConfigResult {
  if (source.embedded) return parseConfig(EMBEDDED_CONFIG, EMBEDDED_CONFIG_NAME, process.cwd());
  return loadConfigFile(source.file!);
}

/**
 * The config of a command that works without a daemon (spf, scan): the file, or the schema's defaults
 * when the default file is absent. A file named with --config (`given`) must exist.
 */
export function readToolConfig(file: string, given: boolean): ConfigResult {
  if (!given && !existsSync(file)) return parseConfig("", "(defaults)", process.cwd());
  return loadConfigFile(file);
}
