import { z } from 'zod';
import { FUNCTION_NAME, parseInput } from '../registry/index.ts';
import type { AsyncConfigRecord, AsyncQueue } from './queue.ts';

/** Lambda's "event invoke config" ranges and defaults. */
export const ASYNC_CONFIG_LIMITS = {
  retries: { min: 0, max: 10, default: 2 },
  maxEventAgeSeconds: { min: 60, max: 21_600, default: 21_600 },
} as const;

export type Destination = { type: 'function'; name: string } | { type: 'webhook'; url: string } | { type: 'topic'; name: string };

/** Per-function async settings: mutable, not part of a version. */
export interface AsyncConfig {
  retries: number;
  maxEventAgeSeconds: number;
  onSuccess: Destination | null;
  onFailure: Destination | null;
}

export const DEFAULT_ASYNC_CONFIG: AsyncConfig = Object.freeze({
  retries: ASYNC_CONFIG_LIMITS.retries.default,
  maxEventAgeSeconds: ASYNC_CONFIG_LIMITS.maxEventAgeSeconds.default,
  onSuccess: null,
  onFailure: null,
});

const MAX_URL_LENGTH = 2048;

const destinationSchema = z.strictObject({
  type: z.enum(['function', 'webhook', 'topic'], { error: 'must be "function", "webhook" or "topic"' }),
  name: z.string().optional(),
  url: z.string().optional(),
}).superRefine((d, ctx) => {
  const stray = d.type === 'webhook' ? 'name' : 'url';
  if (d[stray] !== undefined) ctx.addIssue({ code: 'custom', path: [stray], message: `is not a field of a ${d.type} destination` });
  if (d.type === 'function') {
    if (d.name === undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'is required: the function to invoke' });
    else if (!FUNCTION_NAME.test(d.name)) ctx.addIssue({ code: 'custom', path: ['name'], message: 'must be a function name' });
  } else if (d.type === 'topic') {
    // the name's format and existence are checked against the server's topics
    if (d.name === undefined || d.name === '') ctx.addIssue({ code: 'custom', path: ['name'], message: 'is required: the topic to publish to' });
  } else if (d.url === undefined) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required: the URL to POST the record to' });
  } else if (!isHttpUrl(d.url)) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: `must be an http:// or https:// URL of at most ${MAX_URL_LENGTH} characters` });
  }
}).transform((d): Destination => (d.type === 'webhook' ? { type: 'webhook', url: d.url! } : { type: d.type, name: d.name! }));

const int = (min: number, max: number, unit: string) =>
  z.number({ error: `must be a number (${unit})` }).int(`must be a whole number (${unit})`)
    .min(min, `must be between ${min} and ${max} (${unit})`).max(max, `must be between ${min} and ${max} (${unit})`);

/** `PUT /v1/functions/{name}/async-config`: the whole config; missing fields take their defaults. */
export const asyncConfigSchema = z.strictObject({
  retries: int(ASYNC_CONFIG_LIMITS.retries.min, ASYNC_CONFIG_LIMITS.retries.max, 'retries').default(ASYNC_CONFIG_LIMITS.retries.default),
  maxEventAgeSeconds: int(ASYNC_CONFIG_LIMITS.maxEventAgeSeconds.min, ASYNC_CONFIG_LIMITS.maxEventAgeSeconds.max, 'seconds')
    .default(ASYNC_CONFIG_LIMITS.maxEventAgeSeconds.default),
  onSuccess: destinationSchema.nullable().default(null),
  onFailure: destinationSchema.nullable().default(null),
});

export function parseAsyncConfig(body: unknown): AsyncConfig {
  return parseInput(asyncConfigSchema, body ?? {}, 'async config');
}

function isHttpUrl(s: string): boolean {
  if (s.length > MAX_URL_LENGTH) return false;
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * The configs of every function, in memory: the dispatcher reads one per event, so it must not
 * cost a query. Written through to the queue's table first, then cached.
 */
export class AsyncConfigs {
  readonly #queue: AsyncQueue;
  readonly #byFunction = new Map<string, AsyncConfig>();

  constructor(queue: AsyncQueue) {
    this.#queue = queue;
  }

  async load(): Promise<void> {
    for (const r of await this.#queue.listConfigs()) this.#byFunction.set(r.functionId, fromRecord(r));
  }

  /** The function's config, or the defaults. */
  get(functionId: string): AsyncConfig {
    return this.#byFunction.get(functionId) ?? DEFAULT_ASYNC_CONFIG;
  }

  isSet(functionId: string): boolean {
    return this.#byFunction.has(functionId);
  }

  async put(namespace: string, functionId: string, config: AsyncConfig, now: number): Promise<void> {
    await this.#queue.putConfig({
      functionId,
      namespace,
      retries: config.retries,
      maxEventAgeSeconds: config.maxEventAgeSeconds,
      onSuccess: config.onSuccess && JSON.stringify(config.onSuccess),
      onFailure: config.onFailure && JSON.stringify(config.onFailure),
      updatedAt: now,
    });
    this.#byFunction.set(functionId, config);
  }

  async delete(functionId: string): Promise<void> {
    await this.#queue.deleteConfig(functionId);
    this.#byFunction.delete(functionId);
  }

  /** Drops the cached config of a deleted function (its row goes with the function's other async rows). */
  forget(functionId: string): void {
    this.#byFunction.delete(functionId);
  }
}

function fromRecord(r: AsyncConfigRecord): AsyncConfig {
  return {
    retries: r.retries,
    maxEventAgeSeconds: r.maxEventAgeSeconds,
    onSuccess: r.onSuccess === null ? null : JSON.parse(r.onSuccess) as Destination,
    onFailure: r.onFailure === null ? null : JSON.parse(r.onFailure) as Destination,
  };
}
