import { z } from 'zod';
import { validationError } from '../shared/errors.ts';

/** How the dispatcher runs, from AVIARY_ASYNC_* (docs/async.md lists each with its default). */
export interface AsyncSettings {
  /** Events running at once across all functions (each function is further held to its max instances). */
  concurrency: number;
  /** Backoff base and cap between retries of a failed event (full jitter, doubling). */
  retryBaseMs: number;
  retryCapMs: number;
  /** Wait (±50%) before an event refused for lack of an instance (429) is tried again; not counted as an attempt. */
  throttleDelayMs: number;
  /** Longest wait between looks for due events when nothing wakes the dispatcher. */
  pollMs: number;
  /**
   * A claim's lease: the longest an attempt can take (2 × the function's timeout + 20 s) plus
   * this margin. A running event whose lease ran out is considered abandoned and queued again.
   */
  leaseMs: number;
  webhookAttempts: number;
  webhookTimeoutMs: number;
  webhookRetryBaseMs: number;
  /** On shutdown, how long running events may take to finish; the rest run again after restart. */
  stopWaitMs: number;
}

export const DEFAULT_ASYNC_SETTINGS: AsyncSettings = {
  concurrency: 64,
  retryBaseMs: 5_000,
  retryCapMs: 300_000,
  throttleDelayMs: 1_000,
  pollMs: 1_000,
  leaseMs: 60_000,
  webhookAttempts: 3,
  webhookTimeoutMs: 10_000,
  webhookRetryBaseMs: 1_000,
  stopWaitMs: 5_000,
};

const ENV: Record<keyof AsyncSettings, { env: string; min: number; max: number }> = {
  concurrency: { env: 'AVIARY_ASYNC_CONCURRENCY', min: 1, max: 10_000 },
  retryBaseMs: { env: 'AVIARY_ASYNC_RETRY_BASE_MS', min: 1, max: 3_600_000 },
  retryCapMs: { env: 'AVIARY_ASYNC_RETRY_CAP_MS', min: 1, max: 21_600_000 },
  throttleDelayMs: { env: 'AVIARY_ASYNC_THROTTLE_DELAY_MS', min: 1, max: 600_000 },
  pollMs: { env: 'AVIARY_ASYNC_POLL_MS', min: 1, max: 60_000 },
  leaseMs: { env: 'AVIARY_ASYNC_LEASE_MS', min: 0, max: 86_400_000 },
  webhookAttempts: { env: 'AVIARY_ASYNC_WEBHOOK_ATTEMPTS', min: 1, max: 20 },
  webhookTimeoutMs: { env: 'AVIARY_ASYNC_WEBHOOK_TIMEOUT_MS', min: 100, max: 300_000 },
  webhookRetryBaseMs: { env: 'AVIARY_ASYNC_WEBHOOK_RETRY_BASE_MS', min: 1, max: 600_000 },
  stopWaitMs: { env: 'AVIARY_ASYNC_STOP_WAIT_MS', min: 0, max: 600_000 },
};

/** Reads AVIARY_ASYNC_* once at start-up; a bad value stops the server with the variable named. */
export function asyncSettingsFromEnv(env: NodeJS.ProcessEnv): AsyncSettings {
  const settings = { ...DEFAULT_ASYNC_SETTINGS };
  const issues: { path: string; message: string }[] = [];
  for (const [field, spec] of Object.entries(ENV) as [keyof AsyncSettings, (typeof ENV)[keyof AsyncSettings]][]) {
    const raw = env[spec.env];
    if (raw === undefined || raw === '') continue;
    const parsed = z.coerce.number().int().min(spec.min).max(spec.max).safeParse(raw);
    if (parsed.success) settings[field] = parsed.data;
    else issues.push({ path: spec.env, message: `must be a whole number from ${spec.min} to ${spec.max}` });
  }
  if (settings.retryCapMs < settings.retryBaseMs) issues.push({ path: ENV.retryCapMs.env, message: `must not be below ${ENV.retryBaseMs.env}` });
  if (issues.length > 0) throw validationError(issues, 'server configuration');
  return settings;
}
