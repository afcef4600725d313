// The content rules as a concern of the engine: in-process (a scan is pure CPU of a few milliseconds,
// content/scan.ts), no actor. It applies to whole messages ("message" requests, the spamd front) when
// [content] is configured; it counts nothing, so commit has nothing to do and decide is check.
import type { Logger } from "../log.ts";
import type { ContentPolicy } from "../model/content.ts";
import type { PolicyRequest } from "../policy/request.ts";
import { scanMessage } from "../content/scan.ts";
import type { Concern, ConcernReply } from "./concern.ts";

export function contentConcern(policy: () => ContentPolicy | undefined, log: Logger): Concern {
  const ask = (request: PolicyRequest, reply: ConcernReply) => {
    const rules = policy();
    if (request.form !== "message" || rules === undefined) return reply(undefined, 0, "error");
    scanMessage(request, rules).then(
      (answer) => reply(answer),
      (error) => {
        // A scan is written never to throw; if one does, the message gets [content] fail_mode.
        log.warn("content", "scan failed", { error: (error as Error).message });
        reply(undefined, 0, "error");
      },
    );
  };
  return {
    id: "content",
    applies: (request) => request.form === "message" && policy() !== undefined,
    check: ask,
    decide: ask,
    commit() {},
  };
}
