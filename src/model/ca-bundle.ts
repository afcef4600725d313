// A tls_ca_file's contents checked before they are used ([redis] and [alerts]). The runtimes disagree on a
// file without a certificate: Node and Deno take it as an empty list of CAs (every certificate then fails
// the check, said as "unable to get local issuer certificate", as of a wrong CA), Bun throws "Invalid CA"
// where the connection is made. A CA file half written by a rotation, or replaced by an HTML error page,
// is said as what it is instead. Pure: the callers read the file (store/ca-file.ts).
import { X509Certificate } from "node:crypto";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Why `pem` is no bundle of CA certificates, or undefined when it holds one or more, each readable. */
export function caBundleProblem(pem: Uint8Array): string | undefined {
  const blocks = new TextDecoder().decode(pem).match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return "it holds no PEM certificate";
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return `its certificate ${index + 1} of ${blocks.length} is not readable (${(error as Error).message})`;
    }
  }
  return undefined;
}
