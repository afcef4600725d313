import type { Attributes, Stage } from "../protocols/attributes.ts";

/** What the engine decides on: a legacy one-token request or an attribute request at a stage. */
export type PolicyRequest =
  | { form: "legacy"; key: string }
  | { form: "attributes"; stage: Stage; attributes: Attributes };
