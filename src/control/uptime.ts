// How long the daemon has been up, for people: "3d 4h", "2h 5m", "42s". Made here once and served in
// /status, so that `mailpolicyd status` and the dashboard print the same text. (Limit windows are not
// formatted at all: they are shown as written in the config, LimitConfig.window.)
export function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60), s = Math.floor(seconds % 60);
  return [d && `${d}d`, h && `${h}h`, m && `${m}m`, !d && !h && `${s}s`].filter(Boolean).join(" ");
}
