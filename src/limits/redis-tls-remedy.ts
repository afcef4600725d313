// What to do when Redis's certificate failed the check (docs/redis.md, "Rotating Redis's certificate or its
// CA"). The runtimes say OpenSSL's verdict ("self signed certificate in certificate chain", "unable to
// verify the first certificate"), not the setting that decides it, nor that the daemon reads that file only
// when it connects or reloads: the log named the failure, and the postmaster had to find the remedy in the
// documentation. Pure: no I/O.

// OpenSSL's verify codes for a certificate no trusted CA signed (the runtimes give them as the error's code,
// Bun and Deno too). Not a name the certificate lacks, nor one expired: the CA file does not help there.
const UNTRUSTED =
  /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_(GET_ISSUER_CERT(_LOCALLY)?|VERIFY_LEAF_SIGNATURE)|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE)$/;

/** The remedy for `error` when it is Redis's certificate that no CA the daemon trusts signed; else undefined. */
export function redisTlsRemedy(error: unknown, caFile: string | undefined): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string" || !UNTRUSTED.test(code)) return undefined;
  return caFile === undefined
    ? "name the CA that signed Redis's certificate with [redis] tls_ca_file (the system's CAs do not), then reload"
    : `put the CA that signed Redis's certificate into [redis] tls_ca_file (${caFile}), then reload: ` +
      "the daemon reads the file when it connects and at a reload";
}
