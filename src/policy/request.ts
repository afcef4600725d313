import type { Attributes, Stage } from "../protocols/attributes.ts";
import type { MessageEnvelope } from "../model/message.ts";

/**
 * What the engine decides on: a legacy one-token request, an attribute request at a stage, or a whole
 * message at the end of DATA (content concerns only: `message` holds at most the listener's bound of bytes,
 * `size` is what the MTA announced, `truncated` says the bytes stop short of it).
 */
export type PolicyRequest =
  | { form: "legacy"; key: string }
  | { form: "attributes"; stage: Stage; attributes: Attributes }
  | { form: "message"; envelope: MessageEnvelope; message: Uint8Array; size: number; truncated: boolean };
