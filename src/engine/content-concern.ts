// The content rules as a concern of the engine: in-process and synchronous (a scan is a few milliseconds
// of CPU, content/scan.ts), no actor: it answers in the same turn, so the engine sets it no deadline. It applies to whole messages ("message" requests, the spamd front) when
// [content] is configured; it counts nothing, so commit has nothing to do and decide is check.
import type { Logger } from "../log.ts";
import type { ContentPolicy } from "../model/content.ts";
import type { PolicyRequest } from "../policy/request.ts";
import { scanMessage } from "../content/scan.ts";
import { rateLimitedWarning } from "../listeners/connection-bound.ts";
import type { Concern, ConcernReply } from "./concern.ts";

export function contentConcern(policy: () => ContentPolicy | undefined, log: Logger): Concern {
  // Once per 10 s with a count, not a line per message: the engine logs the incident once already, and a
  // scan that throws on one message (a bug) would throw on each of a flood.
  const scanFailed = rateLimitedWarning(log, "content", "scan failed: the engine answers with fail_mode");
  const ask = (request: PolicyRequest, reply: ConcernReply) => {
    const rules = policy();
    if (request.form !== "message" || rules === undefined) return reply(undefined, 0, "error");
    let answer;
    try {
      answer = scanMessage(request, rules);
    } catch (error) {
      // A scan is written never to throw; if one does, the message gets [content] fail_mode.
      scanFailed({ error: (error as Error).message });
      return reply(undefined, 0, "error");
    }
    reply(answer);
  };
  return {
    id: "content",
    counts: false,
    applies: (request) => request.form === "message" && policy() !== undefined,
    check: ask,
    decide: ask,
    commit() {},
  };
}
