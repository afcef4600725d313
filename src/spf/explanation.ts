// The exp= modifier (RFC 7208 §6.2): the text a fail result carries to the sender. Its domain-spec was
// syntax-checked with the record (a malformed exp= is a permerror); everything after that only ever
// takes the explanation away: a DNS error, no record or several, non-ASCII or a macro error in the text.
// Its lookup counts against neither limit (the suite's exp-void).
import { type CheckContext, expandIn } from "./check-context.ts";
import { queryableName } from "./domain-name.ts";
import { type MacroString, parseMacroString } from "./macro.ts";

async function explanationText(context: CheckContext, exp: MacroString, domain: string) {
  const name = queryableName(await expandIn(context, exp, domain));
  if (name === undefined) return undefined;
  const answer = await context.session.tryQuery("TXT", name);
  if (answer === undefined || answer.records.length !== 1) return undefined;
  const text = answer.records[0].join("");
  // Only printable ASCII and spaces (§6.2); parseMacroString rejects anything else.
  return expandIn(context, parseMacroString(text, "explanation"), domain);
}

/** The expanded explanation for a fail decided in the record of `domain`, or undefined. */
export async function explain(
  context: CheckContext,
  exp: MacroString,
  domain: string,
): Promise<string | undefined> {
  try {
    return await explanationText(context, exp, domain);
  } catch {
    return undefined; // macro errors, and the budget running out: the fail stands without a text
  }
}
