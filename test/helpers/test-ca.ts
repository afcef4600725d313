// Certificates made with openssl for TLS tests: a CA, a server certificate it signed for the names and
// addresses given, and another CA that signs nothing of the server's (a certificate from an unknown CA).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import type { TempDir } from "./temp-dir.ts";

/**
 * Writes ca.pem/ca.key, other.pem/other.key and server.pem/server.key into `dir`. `altNames` are the
 * server certificate's subjectAltName entries ("DNS:localhost", "IP:127.0.0.1").
 */
export function makeCertificates(dir: TempDir, altNames = ["DNS:localhost", "IP:127.0.0.1"]): void {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir.path, stdio: "pipe" });
  const newKey = ["-newkey", "rsa:2048", "-nodes"];
  const ca = (name: string, file: string) =>
    openssl(
      "req",
      "-x509",
      ...newKey,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      `${file}.key`,
      "-out",
      `${file}.pem`,
    );
  ca("test CA", "ca");
  ca("other CA", "other"); // signs nothing of the server's
  openssl("req", ...newKey, "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr");
  writeFileSync(dir.file("san.ext"), `subjectAltName = ${altNames.join(", ")}\n`);
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "san.ext",
    "-out",
    "server.pem",
  );
}
