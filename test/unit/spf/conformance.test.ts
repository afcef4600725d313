// The OpenSPF RFC 7208 suite (test/fixtures/spf/, BSD licence beside it): every test of every scenario
// against checkHost() with a resolver answering from the scenario's zone. A test passes when the result
// is one of those listed and, where an explanation is given, the explanation matches: "DEFAULT" means
// the implementation's default, and checkHost() leaves that to its caller, so none must be set. The score
// is printed; the RFC 4408 suite (older rules, not a target) is scored and printed without failing.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { checkHost } from "../../../src/spf/check-host.ts";
import type { SpfCheck } from "../../../src/spf/types.ts";
import { parseYamlDocuments, type YamlValue } from "./suite-yaml.ts";
import { zoneResolver } from "./zone-resolver.ts";

interface SuiteTest {
  host: string;
  helo: string;
  mailfrom: string;
  result: string | string[];
  explanation?: string;
}

interface Scenario {
  description: string;
  tests: { [name: string]: SuiteTest };
  zonedata: { [name: string]: YamlValue };
}

function loadSuite(file: string): Scenario[] {
  const url = new URL(`../../fixtures/spf/${file}`, import.meta.url);
  return parseYamlDocuments(readFileSync(url, "utf8")) as unknown as Scenario[];
}

/** synchronous: the resolver answers through `cached`, as a warm CachingResolver does (zone-resolver.ts). */
async function run(scenario: Scenario, test: SuiteTest, synchronous = false): Promise<SpfCheck> {
  return await checkHost(test.host, test.mailfrom ?? "", String(test.helo ?? ""), {
    resolver: zoneResolver(scenario.zonedata, synchronous),
    // Fixed so that a slow machine cannot turn a result into temperror; the budget has its own tests.
    timeoutMs: 60_000,
  });
}

/** Why the check does not meet the test, or undefined when it does. */
function miss(test: SuiteTest, check: SpfCheck): string | undefined {
  const wanted = Array.isArray(test.result) ? test.result : [test.result];
  if (!wanted.includes(check.result)) {
    return `result ${check.result}${check.problem ? ` (${check.problem})` : ""}, wanted ${
      wanted.join(" or ")
    }`;
  }
  if (test.explanation === undefined) return undefined;
  const explanation = test.explanation === "DEFAULT" ? undefined : test.explanation;
  if (check.explanation !== explanation) {
    return `explanation ${JSON.stringify(check.explanation)}, wanted ${JSON.stringify(explanation)}`;
  }
  return undefined;
}

async function score(
  file: string,
  synchronous = false,
): Promise<{ passed: number; total: number; misses: string[] }> {
  let passed = 0, total = 0;
  const misses: string[] = [];
  for (const scenario of loadSuite(file)) {
    for (const [name, test] of Object.entries(scenario.tests)) {
      total++;
      const why = miss(test, await run(scenario, test, synchronous));
      if (why) misses.push(`${scenario.description}/${name}: ${why}`);
      else passed++;
    }
  }
  return { passed, total, misses };
}

describe("OpenSPF RFC 7208 suite", () => {
  const scenarios = loadSuite("rfc7208-tests.yml");

  it("is read whole: 16 scenarios, 203 tests", () => {
    assert.equal(scenarios.length, 16);
    assert.equal(scenarios.reduce((n, s) => n + Object.keys(s.tests).length, 0), 203);
  });

  for (const scenario of scenarios) {
    describe(scenario.description, () => {
      for (const [name, test] of Object.entries(scenario.tests)) {
        it(name, async () => {
          const why = miss(test, await run(scenario, test));
          assert.equal(why, undefined, why);
        });
      }
    });
  }

  it("scores 203/203", async () => {
    const { passed, total, misses } = await score("rfc7208-tests.yml");
    console.log(`SPF conformance (RFC 7208 suite): ${passed}/${total}`);
    assert.deepEqual(misses, []);
    assert.equal(passed, 203);
  });

  it("scores 203/203 through a resolver's synchronous cache too (a warm CachingResolver's path)", async () => {
    const { passed, misses } = await score("rfc7208-tests.yml", true);
    console.log(`SPF conformance (RFC 7208 suite, answers from the cache): ${passed}/203`);
    assert.deepEqual(misses, []);
    assert.equal(passed, 203);
  });
});

describe("OpenSPF RFC 4408 suite (informative)", () => {
  it("is scored", async () => {
    const { passed, total, misses } = await score("rfc4408-tests.yml");
    console.log(`SPF conformance (RFC 4408 suite, informative): ${passed}/${total}`);
    for (const line of misses) console.log(`  RFC 4408 difference: ${line}`);
    assert.equal(total, 191);
  });
});
