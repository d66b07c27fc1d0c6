import { randomUUID } from 'node:crypto';
import type { Registry } from '../registry/index.ts';
import { AviaryError, isAviaryError, validationError } from '../shared/errors.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import { parseAsyncConfig, type AsyncConfig, type AsyncConfigs } from './config.ts';
import type { AsyncQueue, DeadLetter, EventStatus, QueuedEvent } from './queue.ts';
import type { AsyncEventInput, AsyncInvoker, EnqueueResult } from './types.ts';
import type { TopicSink } from './destinations.ts';

/** An Idempotency-Key is remembered this long. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/** Printable ASCII, no surrounding spaces, 255 characters at most. */
const IDEMPOTENCY_KEY = /^[!-~](?:[ -~]{0,253}[!-~])?$/;
export const EVENT_STATUSES: readonly EventStatus[] = ['queued', 'running', 'succeeded', 'failed'];

export interface AsyncServiceOptions {
  queue: AsyncQueue;
  registry: Registry;
  configs: AsyncConfigs;
  /** Told when an event was queued, so it runs without waiting for the next poll. */
  dispatcher: { wake(functionId?: string): void };
  /** Largest event accepted (Lambda: 256 KB). Destination records are exempt: they carry the function's response. */
  payloadBytes: number;
  /** The server's topics, for topic destinations. */
  topics?: TopicSink | undefined;
  warn: (message: string) => void;
  clock?: Clock;
}

/**
 * The async feature's surface: `enqueue` for every event source (the API's `?mode=async`, the
 * Lambda Invoke API's `Event` type, schedules…), and the reads and changes behind the API's
 * invocation, dead-letter and async-config routes. Names are resolved and checked here.
 */
export class AsyncService implements AsyncInvoker {
  readonly #o: AsyncServiceOptions;
  readonly #clock: Clock;

  constructor(options: AsyncServiceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    options.registry.onChange((e) => {
      if (e.type !== 'deleted') return;
      options.configs.forget(e.fn.id);
      options.queue.deleteFunction(e.fn.id).catch((err: unknown) => {
        options.warn(`async: deleting the queued events of ${e.fn.name} failed: ${(err as Error).message}`);
      });
    });
  }

  async enqueue(input: AsyncEventInput): Promise<EnqueueResult> {
    const bytes = Buffer.byteLength(input.eventJson);
    if (bytes > this.#o.payloadBytes && input.source !== 'destination') {
      throw new AviaryError('PayloadTooLarge',
        `the event is ${bytes} bytes; the limit for asynchronous invocations is ${this.#o.payloadBytes} bytes (${Math.round(this.#o.payloadBytes / 1024)} KB): pass large data by reference, e.g. a URL`);
    }
    const key = input.idempotencyKey;
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw validationError([{ path: 'Idempotency-Key', message: 'must be 1-255 printable ASCII characters without surrounding spaces, e.g. a UUID' }], 'Idempotency-Key header');
    }
    const { fn } = this.#o.registry.resolve(input.namespace, input.functionRef);
    const colon = input.functionRef.indexOf(':');
    const qualifier = colon === -1 ? null : input.functionRef.slice(colon + 1);
    const now = this.#clock.now();
    const result = await this.#o.queue.enqueue({
      id: randomUUID(),
      namespace: input.namespace,
      functionId: fn.id,
      functionName: fn.name,
      qualifier: qualifier === '' || qualifier === '$LATEST' ? null : qualifier,
      source: input.source,
      payload: input.eventJson,
      depth: 0,
      enqueuedAt: now,
    }, key === undefined ? undefined : { key, now, expiresAt: now + IDEMPOTENCY_TTL_MS });
    if (!result.duplicate) this.#o.dispatcher.wake(fn.id);
    return result;
  }

  async get(namespace: string, id: string): Promise<QueuedEvent> {
    const e = await this.#o.queue.get(namespace, id);
    if (!e) throw new AviaryError('NotFound', `no asynchronous invocation ${id}; list a function's with \`aviary invocations NAME\` (finished ones are kept for the retention period)`);
    return e;
  }

  async list(namespace: string, name: string, status: EventStatus | undefined, limit: number): Promise<QueuedEvent[]> {
    return this.#o.queue.list({ functionId: this.#functionId(namespace, name), status, limit });
  }

  async deadLetters(namespace: string, name: string, limit: number): Promise<DeadLetter[]> {
    return this.#o.queue.deadLetters(this.#functionId(namespace, name), limit);
  }

  async deadLetter(namespace: string, name: string, id: string): Promise<DeadLetter> {
    const d = await this.#o.queue.deadLetter(this.#functionId(namespace, name), id);
    if (!d) throw new AviaryError('NotFound', `${name} has no dead letter ${id}; list them with \`aviary dlq list ${name}\``);
    return d;
  }

  /** Queues dead letters again (all, or `ids`, which must all exist). Returns the ids queued. */
  async redrive(namespace: string, name: string, ids: string[] | undefined): Promise<string[]> {
    const functionId = this.#functionId(namespace, name);
    const r = await this.#o.queue.redrive(functionId, ids, this.#clock.now());
    if (r.missing.length > 0) {
      throw new AviaryError('NotFound', `${name} has no dead letter ${r.missing.join(', ')}; nothing was redriven (list them with \`aviary dlq list ${name}\`)`);
    }
    if (r.ids.length > 0) this.#o.dispatcher.wake(functionId);
    return r.ids;
  }

  async purge(namespace: string, name: string, ids: string[] | undefined): Promise<number> {
    return this.#o.queue.purge(this.#functionId(namespace, name), ids);
  }

  /** The function's async config, or the defaults (`isDefault`). */
  config(namespace: string, name: string): { config: AsyncConfig; isDefault: boolean } {
    const id = this.#functionId(namespace, name);
    return { config: this.#o.configs.get(id), isDefault: !this.#o.configs.isSet(id) };
  }

  /** Replaces the function's async config; a destination must name another existing function. */
  async putConfig(namespace: string, name: string, body: unknown): Promise<AsyncConfig> {
    const id = this.#functionId(namespace, name);
    const config = parseAsyncConfig(body);
    const issues: { path: string; message: string }[] = [];
    for (const field of ['onSuccess', 'onFailure'] as const) {
      const d = config[field];
      if (d?.type === 'function') {
        if (d.name === name) issues.push({ path: `${field}.name`, message: 'must be another function (a function that is its own destination would invoke itself forever)' });
        else if (!this.#exists(namespace, d.name)) issues.push({ path: `${field}.name`, message: `function ${d.name} does not exist; deploy it first` });
      } else if (d?.type === 'topic') {
        const problem = await this.#topicProblem(namespace, d.name);
        if (problem) issues.push({ path: `${field}.name`, message: problem });
      }
    }
    if (issues.length > 0) throw validationError(issues, 'async config');
    await this.#o.configs.put(namespace, id, config, this.#clock.now());
    return config;
  }

  async deleteConfig(namespace: string, name: string): Promise<void> {
    await this.#o.configs.delete(this.#functionId(namespace, name));
  }

  async #topicProblem(namespace: string, name: string): Promise<string | undefined> {
    if (!this.#o.topics) return 'topic destinations are not available on this server';
    try {
      if (await this.#o.topics.find(namespace, name)) return undefined;
      return `topic ${name} does not exist; create it first (aviary topic create ${name})`;
    } catch (err) {
      const issue = isAviaryError(err) ? err.issues?.[0]?.message : undefined;
      return issue ?? (err as Error).message;
    }
  }

  #exists(namespace: string, name: string): boolean {
    try {
      this.#o.registry.getFunction(namespace, name);
      return true;
    } catch {
      return false;
    }
  }

  #functionId(namespace: string, name: string): string {
    return this.#o.registry.getFunction(namespace, name).record.id;
  }
}
