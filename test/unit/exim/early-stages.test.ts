// The ACLs docs/exim.md ("Stages before RCPT") prints for limits counted before RCPT are the ones the
// config check names and test/integration/exim-early-stages.test.ts runs in a real Exim.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DEFAULT_POLICY_ADDRESS } from "../../../src/exim/snippets.ts";
import { earlyStageAcl } from "../../../src/exim/early-stages.ts";

const EXIM_DOC = readFileSync(new URL("../../../docs/exim.md", import.meta.url), "utf8");

describe("the ACLs for stages before RCPT", () => {
  it("are printed in docs/exim.md as the code writes them, for the default policy_listen", () => {
    for (const stage of ["connect", "helo", "mail"] as const) {
      assert.ok(EXIM_DOC.includes(earlyStageAcl(stage, DEFAULT_POLICY_ADDRESS)), stage);
    }
  });
});
