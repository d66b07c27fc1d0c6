import { randomUUID } from 'node:crypto';
import { AviaryError } from '../shared/errors.ts';
import type { Registry, RegistryEvent } from '../registry/index.ts';
import type { Lease, Pool, PoolTarget } from '../pool/index.ts';
import { InitFailure, type FunctionError, type InvokeOutcome, type LogLine } from '../sandbox/index.ts';
import type { FunctionRecord, LogRecord, VersionRecord } from '../store/index.ts';
import type { Recorder } from '../observe/index.ts';
import { functionArn, functionSpec } from './spec.ts';

export interface InvokeInput {
  namespace: string;
  /** `name` or `name:qualifier`. */
  ref: string;
  qualifier?: string | null | undefined;
  /** The event as JSON text; the caller has checked it is JSON. */
  eventJson: string;
  /** Where the invocation came from, recorded with it: `api`, `http`, … */
  source: string;
  clientContext?: unknown;
  traceId?: string | null;
}

export interface InvokeResult {
  requestId: string;
  fn: FunctionRecord;
  version: VersionRecord;
  ok: boolean;
  result: unknown;
  error: FunctionError | undefined;
  cold: boolean;
  initMs: number | null;
  durationMs: number;
  logs: LogLine[];
}

/** Locates a version's built code, building it from its stored package if this node lacks it. */
export interface CodeLocator {
  codeDir(version: VersionRecord): Promise<string>;
}

export interface InvokerOptions {
  registry: Registry;
  pool: Pool;
  code: CodeLocator;
  recorder: Recorder;
  sandboxed: boolean;
  syncPayloadBytes: number;
  /** Longest a request waits for a free instance beyond the function's own timeout. */
  queueWaitMs?: number;
}

const targetKey = (fn: FunctionRecord, version: VersionRecord): string => `${fn.id}:${version.version}`;

/** Tries for an invocation whose instance died before starting it (each death is another invocation's crash). */
const MAX_ATTEMPTS = 3;

/**
 * The one pipeline every invocation goes through, whatever its source: resolve → admit →
 * acquire an instance → run → release or retire → record.
 */
export class Invoker {
  readonly #o: InvokerOptions;
  /** Pool targets per `functionId:version`, built once (the spec is immutable like the version). */
  readonly #targets = new Map<string, Promise<PoolTarget>>();
  /** The same targets once built, for the hot path. */
  readonly #readyTargets = new Map<string, PoolTarget>();

  constructor(options: InvokerOptions) {
    this.#o = options;
    options.registry.onChange((e) => this.#onRegistryChange(e));
  }

  async invoke(input: InvokeInput): Promise<InvokeResult> {
    const { fn, version } = this.#o.registry.resolve(input.namespace, input.ref, input.qualifier);
    // a UTF-16 unit is at most 3 bytes of UTF-8: count bytes only when the text could be over
    const limit = this.#o.syncPayloadBytes;
    const payloadBytes = input.eventJson.length * 3 > limit ? Buffer.byteLength(input.eventJson) : 0;
    if (payloadBytes > limit) {
      throw new AviaryError('PayloadTooLarge',
        `request payload is ${payloadBytes} bytes; the limit for synchronous invocations is ${limit} bytes (6 MB): pass large data by reference, e.g. a URL`);
    }
    const target = this.#readyTargets.get(targetKey(fn, version)) ?? await this.target(fn, version);
    const requestId = randomUUID();
    const started = performance.now();
    const startedAt = Date.now();
    const qualified = input.qualifier ?? (input.ref.includes(':') ? input.ref.slice(input.ref.indexOf(':') + 1) : undefined);
    const request = {
      requestId,
      eventJson: input.eventJson,
      timeoutMs: version.timeout * 1000,
      invokedFunctionArn: functionArn(fn.name, qualified),
      traceId: input.traceId ?? null,
      clientContext: input.clientContext ?? null,
    };
    const waitMs = this.#o.queueWaitMs ?? 10_000 + version.timeout * 1000;
    let lease: Lease;
    let outcome: InvokeOutcome;
    for (let attempt = 1; ; attempt++) {
      try {
        // a warm instance at hand is taken without a turn through the promise machinery
        lease = (attempt === 1 ? this.#o.pool.tryAcquire(target) : undefined) ?? await this.#o.pool.acquire(target, waitMs, attempt > 1);
      } catch (err) {
        if (!(err instanceof InitFailure)) throw err;
        // an init failure is the function's error, reported for this invocation (as Lambda does)
        return this.#finish(input, requestId, fn, version, startedAt, started, true, null,
          { ok: false, error: err.error, logs: err.logs, retire: true }, []);
      }
      outcome = await lease.instance.invoke(request);
      if (!outcome.ok && outcome.retire) this.#o.pool.retire(lease);
      else this.#o.pool.release(lease);
      // queued at an instance that then died: it never ran, so it can run on another one, as
      // long as the function still exists (deleting it ends its instances)
      if (outcome.ok || outcome.notStarted !== true || attempt === MAX_ATTEMPTS) break;
      if (!this.#exists(fn)) throw new AviaryError('FunctionNotFound', `function ${fn.name} was deleted while this request waited`);
    }
    return this.#finish(input, requestId, fn, version, startedAt, started, lease.cold, lease.initMs, outcome, lease.initLogs);
  }

  /** Whether `fn` is still deployed (not deleted, nor deleted and deployed again under its name). */
  #exists(fn: FunctionRecord): boolean {
    try {
      return this.#o.registry.resolve(fn.namespace, fn.name).fn.id === fn.id;
    } catch {
      return false;
    }
  }

  /** The pool target of a version (also used to pre-warm and keep min-warm). */
  target(fn: FunctionRecord, version: VersionRecord): Promise<PoolTarget> {
    const key = targetKey(fn, version);
    let t = this.#targets.get(key);
    if (!t) {
      t = this.#o.code.codeDir(version).then((codeDir) => {
        const target = {
          functionId: fn.id,
          version: version.version,
          spec: functionSpec(fn, version, codeDir, this.#o.sandboxed),
          maxInstances: version.maxInstances,
          minWarm: version.minWarm,
        };
        if (this.#targets.get(key) === t) this.#readyTargets.set(key, target);
        return target;
      });
      t.catch(() => this.#targets.delete(key));
      this.#targets.set(key, t);
    }
    return t;
  }

  #finish(input: InvokeInput, requestId: string, fn: FunctionRecord, version: VersionRecord, startedAt: number, started: number,
    cold: boolean, initMs: number | null, outcome: InvokeOutcome, initLogs: LogLine[]): InvokeResult {
    const durationMs = performance.now() - started;
    const logs = initLogs.length > 0 ? [...initLogs, ...outcome.logs] : outcome.logs;
    const error = outcome.ok ? undefined : outcome.error;
    const logRecords: LogRecord[] = logs.map((l) => ({
      invocationId: requestId, functionId: fn.id, version: version.version, time: l.time, stream: l.stream, message: l.message,
    }));
    this.#o.recorder.invocation({
      id: requestId,
      namespace: fn.namespace,
      functionId: fn.id,
      version: version.version,
      source: input.source,
      status: outcome.ok ? 'succeeded' : 'failed',
      cold,
      startedAt,
      durationMs,
      initMs,
      errorType: error?.errorType ?? null,
      errorMessage: error?.errorMessage ?? null,
    }, logRecords);
    return { requestId, fn, version, ok: outcome.ok, result: outcome.ok ? outcome.result : undefined, error, cold, initMs, durationMs, logs };
  }

  #onRegistryChange(e: RegistryEvent): void {
    if (e.type === 'deleted') {
      for (const key of this.#targets.keys()) {
        if (!key.startsWith(`${e.fn.id}:`)) continue;
        this.#targets.delete(key);
        this.#readyTargets.delete(key);
      }
      this.#o.pool.removeFunction(e.fn.id);
      return;
    }
    void this.applyWarmTarget(e.fn, e.version);
  }

  /** Pre-starts a generic process for the runtime class, and keeps min-warm instances of the newest version. */
  async applyWarmTarget(fn: FunctionRecord, version: VersionRecord): Promise<void> {
    if (version.runtime !== 'provided') this.#o.pool.prewarm(version.runtime, version.memory);
    try {
      this.#o.pool.setWarmTarget(await this.target(fn, version));
    } catch {
      // the code is unavailable; the first invocation reports why
    }
  }
}
