// A state file's text written by hand, as a test needs it: rows of one limit, in the daemon's format.

/** `{"format":"mailpolicyd-state","version":1,…}` with `rows` under `limit` and an empty outbox. */
export function stateText(rows: unknown[], savedAt = Date.now(), limit = "thresholds"): string {
  return JSON.stringify({
    format: "mailpolicyd-state",
    version: 1,
    savedAt,
    limits: { [limit]: rows },
    outbox: [],
  });
}
