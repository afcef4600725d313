import { EMBEDDED_CONFIG, EMBEDDED_CONFIG_NAME } from "../config/defaults.ts";
import { type ConfigResult, loadConfigFile, parseConfig } from "../config/load.ts";

/** Reads the config a command names: a file, or the embedded default (paths under the cwd). */
export function readConfig(source: { file?: string; embedded?: boolean }): ConfigResult {
  if (source.embedded) return parseConfig(EMBEDDED_CONFIG, EMBEDDED_CONFIG_NAME, process.cwd());
  return loadConfigFile(source.file!);
}
