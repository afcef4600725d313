// A concern: one thing the engine asks about a request (limits today; SPF, content and spamd next). Each
// has its own config section with `timeout` and `fail_mode` (config/schema.ts CONCERN_KEYS), and is most
// often an actor the engine reaches through a small adapter like limits-concern.ts.
import type { PolicyRequest } from "../policy/request.ts";
import type { ConcernAnswer } from "../model/answer.ts";
export type { ConcernSettings } from "../config/types.ts";

/** Why a concern contributed its failure answer instead of its own. */
export type ConcernFailure = "down" | "timeout" | "error";

/**
 * Something a concern asks that does not answer while the concern still answers every request itself, with
 * its own failure result (SPF: its DNS servers, and temperror): the engine's health book sees answers only,
 * so the concern says it (concern-health.ts).
 */
export interface ConcernImpairment {
  /** What does not answer, as status names it: "DNS". */
  what: string;
  /** ms since epoch. */
  since: number;
  /** The last failure's code (ETIMEOUT, ESERVFAIL, …). */
  lastError: string;
  /** Asks of it that failed since. */
  failed: number;
  /** What the concern answers meanwhile: "temperror". */
  answering: string;
}

/**
 * The concern's answer (undefined: it failed, `failure` says how) and, from `check`, what to hand back
 * to `commit`. Called exactly once per ask, synchronously or later.
 */
export type ConcernReply = (
  answer: ConcernAnswer | undefined,
  ticket?: number,
  failure?: ConcernFailure,
) => void;

export interface Concern {
  readonly id: string;
  /**
   * Whether check leaves something to commit (the limits count requests). The engine asks the others
   * first: answered at once without a refusal, they leave the one that counts to decide in one step.
   */
  readonly counts: boolean;
  /** Whether the concern has anything to say about this request (its stage, its form). */
  applies(request: PolicyRequest): boolean;
  /**
   * Pass 1 when several concerns answer: what the concern would answer, counting nothing yet. A ticket
   * other than 0 must come back through commit, with the merged decision.
   */
  check(request: PolicyRequest, reply: ConcernReply): void;
  /** Pass 2: `refused` says whether the merged decision refuses the request (defer or reject). */
  commit(ticket: number, refused: boolean): void;
  /** The request when this concern is the only one asked: check and commit in one step, on its own answer. */
  decide(request: PolicyRequest, reply: ConcernReply): void;
  /** What it asks that does not answer now, if anything; read by status, not on the request path. */
  impairment?(): ConcernImpairment | undefined;
}
