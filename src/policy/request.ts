import type { Attributes, Stage } from "../protocols/attributes.ts";
import type { MessageEnvelope } from "../model/message.ts";

/**
 * What the engine decides on: a legacy one-token request, an attribute request at a stage, or a whole
 * message at the end of DATA (content concerns only: `message` holds at most the listener's bound of bytes,
 * `size` is what the MTA announced, `truncated` says the bytes stop short of it).
 */
export type PolicyRequest =
  | { form: "legacy"; key: string }
  | {
    form: "attributes";
    stage: Stage;
    attributes: Attributes;
    /**
     * At `local`: the MTA names no login, and `local_user` is the envelope sender (Postfix's milter,
     * protocols/milter.ts localRequestAttributes). Exim's acl_not_smtp names the login: absent there.
     */
    localUserIsSender?: true;
  }
  | { form: "message"; envelope: MessageEnvelope; message: Uint8Array; size: number; truncated: boolean };
