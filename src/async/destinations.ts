import { randomUUID } from 'node:crypto';
import type { ResolvedVersion } from '../registry/index.ts';
import type { Clock } from '../shared/clock.ts';
import { isAviaryError } from '../shared/errors.ts';
import { backoffDelay } from './backoff.ts';
import type { Destination } from './config.ts';
import type { Condition, Finish, NewEvent, QueuedEvent } from './queue.ts';

/** Destination hops after which records are no longer delivered: a loop of destinations ends here. */
export const MAX_DESTINATION_DEPTH = 16;

/**
 * Where an event's destination record goes, as part of its finish: a function destination
 * becomes an event queued in the same commit; a webhook or topic delivery is kept pending with
 * the finish (so a crash does not lose it) and made after it.
 */
export function routeDestination(
  e: QueuedEvent,
  target: Destination,
  condition: Condition,
  record: string,
  at: number,
  registry: { resolve(namespace: string, ref: string): ResolvedVersion },
): Pick<Finish, 'destination' | 'destinationRecord' | 'followUp'> {
  const base = { type: target.type, target: target.type === 'webhook' ? target.url : target.name, condition, at, attempts: 0 };
  if (e.depth + 1 >= MAX_DESTINATION_DEPTH) {
    const error = `not delivered: ${MAX_DESTINATION_DEPTH} destinations in a row led to this event (a loop of destinations?)`;
    return { destination: { ...base, status: 'failed', error }, destinationRecord: null, followUp: null };
  }
  if (target.type !== 'function') return { destination: { ...base, status: 'pending' }, destinationRecord: record, followUp: null };
  let resolved: ResolvedVersion;
  try {
    resolved = registry.resolve(e.namespace, target.name);
  } catch (err) {
    return { destination: { ...base, status: 'failed', attempts: 1, error: (err as Error).message }, destinationRecord: null, followUp: null };
  }
  const followUp: NewEvent = {
    id: randomUUID(), namespace: e.namespace, functionId: resolved.fn.id, functionName: resolved.fn.name, qualifier: null,
    source: 'destination', payload: record, depth: e.depth + 1, enqueuedAt: at,
  };
  return { destination: { ...base, status: 'delivered', attempts: 1, eventId: followUp.id }, destinationRecord: null, followUp };
}

/** How hard a destination delivery tries: `attempts` in all, with backoff between them. */
export interface DeliveryOptions {
  attempts: number;
  /** Per try (webhooks). */
  timeoutMs: number;
  /** Backoff base between tries (full jitter, doubling). */
  retryBaseMs: number;
  clock: Clock;
  random?: () => number;
}

export interface DeliveryOutcome {
  ok: boolean;
  attempts: number;
  /** Why the last try failed. */
  error?: string;
}

type Try = { ok: true } | { ok: false; retryable: boolean; error: string };

/** Where topic destinations publish: the server's built-in topics (`Topics` fits). */
export interface TopicSink {
  /** The topic, or undefined; throws a ValidationError for a malformed name. */
  find(namespace: string, name: string): Promise<unknown>;
  /** Commits the message; throws TooManyRequests when the topic is full. */
  publish(namespace: string, name: string, body: string, attributes: Record<string, string>): Promise<unknown>;
}

async function withRetries(o: DeliveryOptions, once: () => Promise<Try>): Promise<DeliveryOutcome> {
  let error = '';
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    if (attempt > 1) {
      const ms = backoffDelay(attempt - 1, { baseMs: o.retryBaseMs, capMs: o.retryBaseMs * 32 }, o.random);
      await new Promise<void>((resolve) => o.clock.setTimeout(resolve, ms).unref());
    }
    const r = await once();
    if (r.ok) return { ok: true, attempts: attempt };
    error = r.error;
    if (!r.retryable) return { ok: false, attempts: attempt, error };
  }
  return { ok: false, attempts: o.attempts, error };
}

/** Statuses worth trying again: the receiver may accept the same request later. */
const RETRYABLE = (status: number) => status === 408 || status === 429 || status >= 500;

/**
 * POSTs a destination record as JSON, retrying network errors, timeouts, 408, 429 and 5xx with
 * backoff. Redirects are not followed. Never throws.
 */
export function postWebhook(url: string, body: string, headers: Record<string, string>, o: DeliveryOptions): Promise<DeliveryOutcome> {
  return withRetries(o, async () => {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'aviary-destination/1', ...headers },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) return { ok: true };
      const error = `the webhook answered ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}`;
      return { ok: false, retryable: RETRYABLE(res.status), error };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const error = e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : `request failed: ${e.cause?.code ?? e.cause?.message ?? e.message}`;
      return { ok: false, retryable: true, error };
    }
  });
}

/** Publishes a destination record to a built-in topic, retrying while the topic is full. Never throws. */
export function publishToTopic(topics: TopicSink, namespace: string, topic: string, body: string, o: DeliveryOptions): Promise<DeliveryOutcome> {
  return withRetries(o, async () => {
    try {
      await topics.publish(namespace, topic, body, { contentType: 'application/json' });
      return { ok: true };
    } catch (err) {
      return { ok: false, retryable: isAviaryError(err) && err.code === 'TooManyRequests', error: (err as Error).message };
    }
  });
}
