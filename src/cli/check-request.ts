// `mailpolicyd check REQUEST…`: the words the shell hands over, made into the line Exim would send. The
// shell has already removed the postmaster's quotes (subject='two words' arrives as `subject=two words`),
// so each NAME=VALUE is re-quoted as Exim's ${quote:} does; sent joined as they came, the line was a bad
// request. Pure: tested directly.
import { formatAttributes, isStage, STAGES } from "../protocols/attributes.ts";
import { typedAddressProblem } from "../spf/ip-address.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function checkRequestLine(words: string[]): { line: string } | { error: string } {
  // One word without "=": the one-token form (an address or an IP), sent as it is.
  if (words.length === 1 && !words[0].includes("=")) return { line: words[0] };
  const [stage, ...pairs] = words;
  if (!isStage(stage.toLowerCase())) {
    return { error: `a request is one token, or a stage (${STAGES.join(", ")}) and NAME=VALUE pairs` };
  }
  const fields: [string, string][] = [];
  for (const pair of pairs) {
    const equals = pair.indexOf("=");
    const name = pair.slice(0, equals);
    if (equals < 0 || !NAME.test(name)) {
      return {
        error: `'${pair}' is not NAME=VALUE (quote a value with spaces for the shell: subject='two words')`,
      };
    }
    const value = pair.slice(equals + 1);
    // Exim and Postfix send the client's IP, or nothing (local mail). Another value was sent on, and the SPF
    // trace after the answer printed `mailpolicyd spf`'s usage error; "01.2.3.4" was counted as 1.2.3.4,
    // which may not be the address meant (octal).
    const problem = name.toLowerCase() === "client_address" && value !== ""
      ? typedAddressProblem(value)
      : undefined;
    if (problem !== undefined) {
      return { error: `client_address ${JSON.stringify(value)} is not an IP address${problem}` };
    }
    fields.push([name, value]);
  }
  return {
    line: fields.length > 0 ? `${stage.toLowerCase()} ${formatAttributes(fields)}` : stage.toLowerCase(),
  };
}
