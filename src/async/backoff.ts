/** Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"). */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/**
 * The wait before retry number `retry` (1 for the first retry): uniformly random in
 * [0, min(cap, base · 2^(retry-1))). Full jitter spreads retries of events that failed together.
 */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(Math.max(retry - 1, 0), 40));
  return Math.floor(random() * ceiling);
}

/** A short wait with ±50% jitter, for requeueing an event that was throttled rather than failed. */
export function jittered(ms: number, random: () => number = Math.random): number {
  return Math.floor(ms * (0.5 + random()));
}
