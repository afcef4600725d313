// How a check ends early. permerror and temperror can arise many includes deep; they unwind the whole
// check (an include's permerror or temperror is the including record's, RFC 7208 §5.2), so they travel
// as one exception type that check-host.ts turns into the result.

export type SpfErrorResult = "permerror" | "temperror";

export class SpfError extends Error {
  constructor(readonly result: SpfErrorResult, message: string) {
    super(message);
    this.name = "SpfError";
  }
}

export const permError = (message: string) => new SpfError("permerror", message);
export const tempError = (message: string) => new SpfError("temperror", message);
