// How long the daemon has been up, for people: "3d 4h", "2h 5m", "42s": seconds only under an hour. Made
// here once and served in /status, so that `mailpolicyd status` and the dashboard print the same text.
import { formatDuration } from "../model/duration.ts";

export function formatUptime(seconds: number): string {
  return formatDuration(seconds * 1000, seconds < 3600 ? "s" : "m");
}
