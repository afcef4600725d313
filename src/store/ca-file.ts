// A tls_ca_file read for a TLS connection ([redis], [alerts]): whole, only if it is a regular file (a FIFO
// there would hang the daemon: store/regular-file.ts), and only if it holds CA certificates
// (model/ca-bundle.ts).
import { Buffer } from "node:buffer";
import { caBundleProblem } from "../model/ca-bundle.ts";
import { readRegularBytes } from "./regular-file.ts";

/**
 * The CA certificates in `file` (PEM). Throws an Error that names `setting` and the file: `cannot read …`
 * (absent, unreadable, not a regular file) or `cannot use …` (no certificate in it, or a broken one).
 */
export function readCaFile(file: string, setting: string): Buffer {
  let bytes: Uint8Array;
  try {
    bytes = readRegularBytes(file);
  } catch (error) {
    throw new Error(`cannot read ${setting} ${file}: ${(error as Error).message}`);
  }
  const problem = caBundleProblem(bytes);
  if (problem !== undefined) throw new Error(`cannot use ${setting} ${file}: ${problem}`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
