// tls_ca_file's contents checked before use (model/ca-bundle.ts): the runtimes disagree on a file without a
// certificate (Node and Deno: no CA at all, Bun: "Invalid CA" thrown at the connection), so it is said as
// what it is.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { caBundleProblem } from "../../../src/model/ca-bundle.ts";
import { makeCertificates } from "../../helpers/test-ca.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("caBundleProblem", () => {
  const dir = makeTempDir();
  makeCertificates(dir);
  const ca = readFileSync(dir.file("ca.pem"), "utf8");
  const other = readFileSync(dir.file("other.pem"), "utf8");
  dir.remove();

  it("takes one CA, and a bundle of two with text around them", () => {
    assert.equal(caBundleProblem(bytes(ca)), undefined);
    assert.equal(caBundleProblem(bytes(`# rotated 2026-12-07\n${ca}\nold CA:\n${other}`)), undefined);
  });

  it("says a file without a certificate: empty, garbage, a key", () => {
    for (
      const text of [
        "",
        "<html>502 Bad Gateway</html>\n",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      ]
    ) {
      assert.equal(caBundleProblem(bytes(text)), "it holds no PEM certificate", JSON.stringify(text));
    }
  });

  it("says which certificate of the bundle is broken (a rotation half written)", () => {
    const cut = ca.slice(0, ca.length / 2) + "\n-----END CERTIFICATE-----\n";
    assert.match(
      caBundleProblem(bytes(other + cut)) ?? "",
      /^its certificate 2 of 2 is not readable \(.+\)$/,
    );
  });
});
