/**
 * When a client counts as silent: no delivery for longer than its `silence_days`, or else than
 * three of its usual gaps between deliveries (at least a day). The dashboard, the admin API and the
 * per-client metrics all ask this one rule.
 */
/** Whether the client is silent now, with the last delivery, the usual gap and the threshold. */
export function silence(deliveries: number[], silenceDays: number | null, now: number) {
  const sorted = [...deliveries].sort((a, b) => a - b);
  const last = sorted.at(-1) ?? null;
  const recent = sorted.slice(-51);
  const gaps = recent.slice(1).map((t, i) => t - recent[i]).sort((a, b) => a - b);
  const usualGap = gaps.length >= 2 ? gaps[Math.floor(gaps.length / 2)] : null;
  const threshold = silenceDays !== null
    ? silenceDays * 86_400_000
    : usualGap !== null
    ? Math.max(3 * usualGap, 86_400_000)
    : null;
  return {
    /** The last delivery (ms), or null. */
    last_delivery: last,
    usual_gap_ms: usualGap,
    silence_threshold_ms: threshold,
    silent: last !== null && threshold !== null && now - last > threshold,
  };
}
