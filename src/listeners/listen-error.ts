// Why a listener could not listen, worded as node:net words it under Deno: `listen EADDRINUSE: address
// already in use 127.0.0.1:10037`. Bun.listen's error says only "Failed to listen at 127.0.0.1", without the
// port nor the reason (its code and errno are properties the supervisor's log line does not show), so a
// postmaster whose port is taken, or whose user may not bind it, could not tell what to change.
import { getSystemErrorMap } from "node:util";

/** The error as a message naming the address and the reason; an error that already does is returned as is. */
export function listenError(error: unknown, where: string): Error {
  const cause = error as NodeJS.ErrnoException | undefined;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  const message = cause instanceof Error ? cause.message : String(error);
  if (code === undefined || (message.includes(code) && message.includes(where))) {
    return cause instanceof Error ? cause : new Error(message);
  }
  const reason = typeof cause?.errno === "number"
    ? getSystemErrorMap().get(-Math.abs(cause.errno))?.[1]
    : undefined;
  return Object.assign(new Error(`listen ${code}: ${reason ? `${reason} ` : ""}${where}`), { code });
}
