import type { Clock } from '../../shared/clock.ts';
import type { InvokeInput, InvokeResult } from '../../invoke/index.ts';
import { sleep } from './buffer.ts';
import { failedItems, toEvents, toRecord } from './event.ts';
import type { QueueMessage, QueueSource } from './source.ts';
import type { QueueTriggerRecord } from './types.ts';

export type TriggerStatus = 'starting' | 'healthy' | 'unhealthy' | 'paused' | 'stopped';

/** What `GET /v1/triggers` shows of a running trigger. Counters are since the server started. */
export interface TriggerHealth {
  status: TriggerStatus;
  /** Since when the status holds (ms since the epoch). */
  since: number;
  /** The last source error (broker unreachable, connection lost, stream missing…). */
  lastError: string | null;
  lastErrorAt: number | null;
  /** When the next connection attempt is due while unhealthy. */
  nextAttemptAt: number | null;
  /** The last failed delivery (function error, or messages it reported in batchItemFailures). */
  lastFailure: string | null;
  lastFailureAt: number | null;
  /** Deliveries handed to the function (redeliveries count again). */
  received: number;
  /** Messages acknowledged after the function succeeded for them. */
  succeeded: number;
  /** Failed deliveries sent back to be retried. */
  retried: number;
  /** Messages moved to the dead-letter topic after `maxRetries` retries. */
  deadLettered: number;
  /** Messages dropped after `maxRetries` retries because the trigger has no dead-letter topic. */
  discarded: number;
  /** Messages being processed now. */
  inFlight: number;
}

export function newHealth(now: number): TriggerHealth {
  return {
    status: 'starting', since: now, lastError: null, lastErrorAt: null, nextAttemptAt: null, lastFailure: null, lastFailureAt: null,
    received: 0, succeeded: 0, retried: 0, deadLettered: 0, discarded: 0, inFlight: 0,
  };
}

/** Decides what happens to a message that failed its last allowed attempt. */
export type DeadLetterer = (message: QueueMessage, reason: string) => Promise<'dead-lettered' | 'discarded' | 'retry-later'>;

export interface RunnerOptions {
  trigger: QueueTriggerRecord;
  source: QueueSource;
  /** `Invoker.invoke`: every batch goes through the one pipeline. */
  invoke: (input: InvokeInput) => Promise<InvokeResult>;
  /** The function reference to invoke (`name`, or `name:qualifier`), looked up per batch. */
  functionRef: () => string;
  deadLetter: DeadLetterer;
  health: TriggerHealth;
  clock: Clock;
  /** Largest event handed to the function; bigger batches are split (the synchronous payload limit). */
  maxEventBytes: number;
  warn: (message: string) => void;
  /** Delay before a failed message is delivered again, by its receive count. */
  retryDelayMs?: (receiveCount: number) => number;
  /** Delay before reconnecting after the `failures`-th consecutive source failure. */
  reconnectDelayMs?: (failures: number) => number;
}

/** 1 s, 2 s, 4 s … capped at a minute. */
export const defaultRetryDelayMs = (receiveCount: number): number => Math.min(1000 * 2 ** Math.max(0, receiveCount - 1), 60_000);
/** 0.5 s, 1 s, 2 s … capped at 10 s, with ±20% jitter so many triggers do not reconnect in step. */
export const defaultReconnectDelayMs = (failures: number): number => Math.min(500 * 2 ** Math.max(0, failures - 1), 10_000) * (0.8 + Math.random() * 0.4);

/**
 * Runs one queue trigger: keeps its source connected (reconnecting with backoff while the
 * broker is away), runs `maxConcurrency` workers that each take a batch of up to
 * `batchSize` messages (waiting up to `batchWindowMs` to fill it), invoke the function with
 * Lambda's SQS event through the invoke pipeline, and settle every message: acknowledged
 * when the function succeeded for it, retried with a delay when it failed, dead-lettered
 * after `maxRetries` retries. No message is acknowledged before its function succeeded.
 */
export class QueueTriggerRunner {
  readonly #o: RunnerOptions;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;

  constructor(options: RunnerOptions) {
    this.#o = options;
  }

  get health(): TriggerHealth {
    return this.#o.health;
  }

  start(): void {
    this.#running ??= this.#supervise();
  }

  /** Stops taking messages, waits (at most `graceMs`) for batches in flight, disconnects. */
  async stop(status: 'paused' | 'stopped' = 'stopped', graceMs = 10_000): Promise<void> {
    this.#stop.abort();
    if (this.#running) {
      let timer: unknown;
      await Promise.race([this.#running, new Promise<void>((r) => { timer = this.#o.clock.setTimeout(r, graceMs); })]);
      this.#o.clock.clearTimeout(timer);
    }
    this.#status(status);
  }

  async #supervise(): Promise<void> {
    const { source, clock } = this.#o;
    const reconnectDelay = this.#o.reconnectDelayMs ?? defaultReconnectDelayMs;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      const session = new AbortController();
      let broken: Error | undefined;
      const breakSession = (err: Error): void => {
        broken ??= err;
        session.abort();
      };
      const onStop = (): void => session.abort();
      this.#stop.signal.addEventListener('abort', onStop, { once: true });
      try {
        if (this.#o.health.status !== 'unhealthy') this.#status('starting');
        await source.start(breakSession);
        if (!this.#stop.signal.aborted && !broken) {
          failures = 0;
          this.#status('healthy');
          await Promise.all(Array.from({ length: this.#o.trigger.maxConcurrency }, () => this.#worker(session.signal, breakSession)));
        }
        if (broken) throw broken;
      } catch (err) {
        if (!this.#stop.signal.aborted) this.#sourceError(err);
      } finally {
        this.#stop.signal.removeEventListener('abort', onStop);
      }
      await source.stop().catch((err: unknown) => this.#o.warn(`trigger ${this.#o.trigger.name}: stopping its source failed: ${(err as Error).message}`));
      if (this.#stop.signal.aborted) break;
      failures++;
      const delay = reconnectDelay(failures);
      this.#o.health.nextAttemptAt = clock.now() + delay;
      await sleep(clock, delay, this.#stop.signal);
      this.#o.health.nextAttemptAt = null;
    }
  }

  async #worker(signal: AbortSignal, breakSession: (err: Error) => void): Promise<void> {
    const t = this.#o.trigger;
    while (!signal.aborted) {
      let batch: QueueMessage[];
      try {
        batch = await this.#o.source.receive(t.batchSize, t.batchWindowMs, signal);
      } catch (err) {
        breakSession(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (batch.length > 0) await this.#process(batch);
    }
  }

  /** Invokes the function for a batch and settles each message. Never throws. */
  async #process(batch: QueueMessage[]): Promise<void> {
    const { trigger: t, source, health } = this.#o;
    const items = batch.map((m) => ({ message: m, record: toRecord(m, source.eventSource, source.arn, t.name) }));
    for (const event of toEvents(items.map((i) => i.record), this.#o.maxEventBytes)) {
      const chunk = items.splice(0, event.records.length).map((i) => i.message);
      health.received += chunk.length;
      health.inFlight += chunk.length;
      let retry: Set<string> | 'all';
      let failure: string | undefined;
      try {
        const result = await this.#o.invoke({ namespace: t.namespace, ref: this.#o.functionRef(), eventJson: event.json, source: 'queue' });
        if (result.ok) {
          const parsed = failedItems(result.result, new Set(chunk.map((m) => m.id)));
          retry = parsed.retry;
          failure = parsed.problem ?? (retry !== 'all' && retry.size > 0 ? `the function reported ${retry.size} of ${chunk.length} messages in batchItemFailures (request ${result.requestId})` : undefined);
        } else {
          retry = 'all';
          failure = `${result.error?.errorType ?? 'Error'}: ${result.error?.errorMessage ?? 'the function failed'} (request ${result.requestId})`;
        }
      } catch (err) {
        // the platform could not run the function (not found, throttled, sandbox failure): retry the batch
        retry = 'all';
        failure = `invocation failed: ${(err as Error).message}`;
      }
      if (failure !== undefined) {
        health.lastFailure = failure;
        health.lastFailureAt = this.#o.clock.now();
      }
      await Promise.all(chunk.map((m) => this.#settle(m, retry === 'all' || retry.has(m.id), failure ?? 'failed')));
      health.inFlight -= chunk.length;
    }
  }

  async #settle(m: QueueMessage, failed: boolean, reason: string): Promise<void> {
    const { trigger: t, health } = this.#o;
    try {
      if (!failed) {
        await m.ack();
        health.succeeded++;
      } else if (m.receiveCount > t.maxRetries) {
        const outcome = await this.#o.deadLetter(m, `failed ${m.receiveCount} times; last: ${reason}`);
        if (outcome === 'dead-lettered') health.deadLettered++;
        else if (outcome === 'discarded') health.discarded++;
        else health.retried++;
      } else {
        await m.retry((this.#o.retryDelayMs ?? defaultRetryDelayMs)(m.receiveCount));
        health.retried++;
      }
    } catch (err) {
      // the source will deliver it again (visibility timeout, ack wait, session redelivery)
      this.#o.warn(`trigger ${t.name}: settling message ${m.id} failed: ${(err as Error).message}`);
    }
  }

  #sourceError(err: unknown): void {
    const h = this.#o.health;
    h.lastError = err instanceof Error ? err.message : String(err);
    h.lastErrorAt = this.#o.clock.now();
    this.#status('unhealthy');
  }

  #status(status: TriggerStatus): void {
    const h = this.#o.health;
    if (h.status !== status) {
      h.status = status;
      h.since = this.#o.clock.now();
    }
  }
}
