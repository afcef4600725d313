// A tls_ca_file read for a TLS connection ([redis], [alerts]): whole, only if it is a regular file (a FIFO
// there would hang the daemon: store/regular-file.ts), and only if it holds CA certificates
// (model/ca-bundle.ts). Also read with the config, for config-test's and the reload's warning at its line.
import { Buffer } from "node:buffer";
import { caBundleProblem } from "../model/ca-bundle.ts";
import { readRegularBytes } from "./regular-file.ts";

/** The file's certificates, or why there are none to use: `read` (absent, unreadable, not a regular file). */
function loadCa(file: string): { ca: Buffer } | { failed: "read" | "use"; problem: string } {
  let bytes: Uint8Array;
  try {
    bytes = readRegularBytes(file);
  } catch (error) {
    return { failed: "read", problem: (error as Error).message };
  }
  const problem = caBundleProblem(bytes);
  if (problem !== undefined) return { failed: "use", problem };
  return { ca: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/**
 * The CA certificates in `file` (PEM). Throws an Error that names `setting` and the file: `cannot read …`
 * (absent, unreadable, not a regular file) or `cannot use …` (no certificate in it, or a broken one).
 */
export function readCaFile(file: string, setting: string): Buffer {
  const loaded = loadCa(file);
  if ("ca" in loaded) return loaded.ca;
  throw new Error(`cannot ${loaded.failed} ${setting} ${file}: ${loaded.problem}`);
}

/** Why `file` gives no CA certificates, as `cannot read FILE: …` or `cannot use FILE: …`; else undefined. */
export function caFileProblem(file: string): string | undefined {
  const loaded = loadCa(file);
  return "ca" in loaded ? undefined : `cannot ${loaded.failed} ${file}: ${loaded.problem}`;
}
