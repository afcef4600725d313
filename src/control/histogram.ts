// A Prometheus histogram's lines from raw per-bucket counts (the last bucket: above every bound), for the
// families that keep one (request latency, spamd's latency).

export function histogramLines(
  name: string,
  bounds: readonly number[],
  buckets: readonly number[],
  sum: number,
  count: number,
): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  bounds.forEach((bound, i) => {
    cumulative += buckets[i];
    lines.push(`mailpolicyd_${name}_bucket{le="${bound}"} ${cumulative}`);
  });
  cumulative += buckets[bounds.length];
  lines.push(`mailpolicyd_${name}_bucket{le="+Inf"} ${cumulative}`);
  lines.push(`mailpolicyd_${name}_sum ${sum.toFixed(6)}`);
  lines.push(`mailpolicyd_${name}_count ${count}`);
  return lines;
}
