// What a sendmail program said on stderr when its run failed, made into part of one log value. A sendmail
// says why it took no message only there (Exim's "cannot accept message: failed to stat spool directory …",
// msmtp's "cannot connect to …"), and its exit code alone ("Sendmail exited with code 1") left the postmaster
// to run it by hand to find out. Pure: the run (actors/sendmail-run.ts) hands it the bytes it kept.

/** Characters of it in the error: the first lines name the cause; a program's whole output is not wanted. */
export const SAID_MAX_CHARS = 1000;

/** The lines a program wrote, trimmed and joined by "; " within SAID_MAX_CHARS; undefined when it said nothing. */
export function sendmailSaid(stderr: string): string | undefined {
  const lines = stderr.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  if (lines.length === 0) return undefined;
  const text = lines.join("; ");
  return text.length <= SAID_MAX_CHARS ? text : `${text.slice(0, SAID_MAX_CHARS)}…`;
}
