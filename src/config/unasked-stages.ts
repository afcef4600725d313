// Limits (and [spf]) counted at a stage the shipped MTA lines never ask at. The Exim snippets ask at RCPT,
// DATA and for mail handed to sendmail; the Postfix lines at RCPT and at the end of the message. A limit with
// `stage = connect`, `helo` or `mail` therefore counted nothing, and nothing said so: Exim's own ratelimit
// counts in whichever ACL it is placed, so a postmaster reads `stage = connect` as "counted at connect".
// The config check warns per such key, at its line, with what to add (docs/exim.md, "Stages before RCPT";
// docs/postfix.md, "What Postfix asks, and at which stage"). Pure: the places in, the warnings out.
import {
  type EarlyStage,
  earlyStageAclName,
  earlyStageRequest,
  EXIM_ACL_OPTION,
} from "../exim/early-stages.ts";
import type { Stage } from "../protocols/attributes.ts";
import { EARLY_STAGE_RESTRICTIONS } from "../postfix/snippet.ts";

/** The stages the shipped snippets ask at; a limit at another one counts only what the site adds. */
const ASKED_STAGES: ReadonlySet<Stage> = new Set(["rcpt", "data", "local"]);

/** A `stage` key and what it belongs to. */
export interface StagePlace {
  /** As errors name it: `limit outbound.stage`, `spf.stage`. */
  key: string;
  line: number;
  stage: Stage;
  /** What goes wrong, for the warning's sentence: "this limit counts nothing". */
  effect: string;
}

/** Where the MTAs ask: Exim's readsocket spec (eximAddress), Postfix's endpoint (postfixEndpoint). */
export interface AskedPlaces {
  exim?: string;
  postfix?: string;
}

function isEarly(stage: Stage): stage is EarlyStage {
  return !ASKED_STAGES.has(stage);
}

/** One `FILE:LINE: key: warning: …` line per place whose stage no shipped snippet asks at. */
export function unaskedStageWarnings(
  file: string,
  places: readonly StagePlace[],
  asked: AskedPlaces,
): string[] {
  const warnings: string[] = [];
  for (const place of places) {
    if (!isEarly(place.stage)) continue;
    const advice: string[] = [];
    if (asked.exim !== undefined) {
      advice.push(
        `for Exim set ${EXIM_ACL_OPTION[place.stage]} = ${earlyStageAclName(place.stage)}, an ACL asking ` +
          `\${readsocket{${asked.exim}}{${
            earlyStageRequest(place.stage)
          }}…} (docs/exim.md, "Stages before RCPT")`,
      );
    }
    if (asked.postfix !== undefined) {
      advice.push(
        `for Postfix add check_policy_service ${asked.postfix} to ${EARLY_STAGE_RESTRICTIONS[place.stage]} ` +
          `with smtpd_delay_reject = no (docs/postfix.md, "What Postfix asks, and at which stage")`,
      );
    }
    // policy_listen = none and no [postfix]: only the Unix socket's own clients could ask.
    if (advice.length === 0) advice.push("make the client of the policy socket ask at that stage");
    warnings.push(
      `${file}:${place.line}: ${place.key}: warning: the shipped Exim and Postfix snippets never ask at ` +
        `${place.stage}, so ${place.effect} until the MTA asks there: ${advice.join("; ")}`,
    );
  }
  return warnings;
}
