// The log line of a decided request: at info when something objected or matched, else at debug.
import type { Logger } from "../log.ts";
import type { PolicyRequest } from "../policy/request.ts";
import type { Decision } from "../model/answer.ts";

function describeRequest(request: PolicyRequest): Record<string, string | undefined> {
  if (request.form === "legacy") return { key: request.key };
  if (request.form === "message") {
    const { sender, recipients, clientAddress, queueId } = request.envelope;
    return { stage: "message", sender, recipient: recipients.join(","), client: clientAddress, id: queueId };
  }
  const { sender, recipient, client_address, instance } = request.attributes;
  return { stage: request.stage, sender, recipient, client: client_address, instance };
}

export function logDecision(log: Logger, request: PolicyRequest, decision: Decision): void {
  if (decision.action !== "accept" && (decision.logFields || decision.fields)) {
    if (!log.enabled("info")) return;
    // What the decider said: made only for a line that is written, never for the accepts.
    const said = decision.logFields ?? Object.fromEntries(decision.fields!);
    const tags = decision.decidedBy !== undefined ? decision.tags?.join(",") : undefined;
    log.info("policy", decision.action, tags === undefined ? said : { ...said, tags });
  } else if (log.enabled("debug")) {
    log.debug("policy", "request", {
      ...describeRequest(request),
      action: decision.action,
      over: decision.flagged === true,
      rule: decision.rule,
    });
  }
}
