import { randomUUID } from 'node:crypto';
import { AviaryError } from '../shared/errors.ts';
import type { Registry, RegistryEvent } from '../registry/index.ts';
import type { Lease, Pool, PoolTarget } from '../pool/index.ts';
import { InitFailure, type FunctionError, type InvokeOutcome, type InvokeRequest, type LogLine } from '../sandbox/index.ts';
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
  /** The caller wrote `eventJson` itself and knows it holds no raw CR or LF. */
  eventJsonOneLine?: boolean;
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

/** One invocation on its way through the pipeline. */
interface Call {
  input: InvokeInput;
  fn: FunctionRecord;
  version: VersionRecord;
  target: PoolTarget;
  request: InvokeRequest;
  /** performance.now() and Date.now() when it was admitted. */
  started: number;
  startedAt: number;
  /** Longest it waits for an instance. */
  waitMs: number;
  attempt: number;
  onResult: (result: InvokeResult) => void;
  onError: (err: Error) => void;
}

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

  invoke(input: InvokeInput): Promise<InvokeResult> {
    return new Promise((resolve, reject) => this.run(input, resolve, reject));
  }

  /**
   * `invoke` with callbacks: exactly one of them is called, possibly before `run` returns. A
   * request that finds a warm instance (or a place in line) goes through without a promise or
   * a microtask turn, and a released instance is handed straight to the next waiting request:
   * the HTTP trigger's hot path.
   */
  run(input: InvokeInput, onResult: (result: InvokeResult) => void, onError: (err: Error) => void): void {
    let fn: FunctionRecord;
    let version: VersionRecord;
    try {
      ({ fn, version } = this.#o.registry.resolve(input.namespace, input.ref, input.qualifier));
      // a UTF-16 unit is at most 3 bytes of UTF-8: count bytes only when the text could be over
      const limit = this.#o.syncPayloadBytes;
      const payloadBytes = input.eventJson.length * 3 > limit ? Buffer.byteLength(input.eventJson) : 0;
      if (payloadBytes > limit) {
        throw new AviaryError('PayloadTooLarge',
          `request payload is ${payloadBytes} bytes; the limit for synchronous invocations is ${limit} bytes (6 MB): pass large data by reference, e.g. a URL`);
      }
    } catch (err) {
      onError(err as Error);
      return;
    }
    const target = this.#readyTargets.get(targetKey(fn, version));
    if (target) this.#begin(input, fn, version, target, onResult, onError);
    else this.target(fn, version).then((t) => this.#begin(input, fn, version, t, onResult, onError), onError);
  }

  #begin(input: InvokeInput, fn: FunctionRecord, version: VersionRecord, target: PoolTarget,
    onResult: (result: InvokeResult) => void, onError: (err: Error) => void): void {
    const qualified = input.qualifier ?? (input.ref.includes(':') ? input.ref.slice(input.ref.indexOf(':') + 1) : undefined);
    const call: Call = {
      input,
      fn,
      version,
      target,
      request: {
        requestId: randomUUID(),
        eventJson: input.eventJson,
        eventJsonOneLine: input.eventJsonOneLine,
        timeoutMs: version.timeout * 1000,
        // the unqualified ARN is the spec's, one string for every call (the instance compares it with the last one)
        invokedFunctionArn: qualified === undefined ? target.spec.invokedFunctionArn : functionArn(fn.name, qualified),
        traceId: input.traceId ?? null,
        clientContext: input.clientContext ?? null,
      },
      started: performance.now(),
      startedAt: Date.now(),
      waitMs: this.#o.queueWaitMs ?? 10_000 + version.timeout * 1000,
      attempt: 1,
      onResult,
      onError,
    };
    this.#acquire(call);
  }

  #acquire(call: Call): void {
    const pool = this.#o.pool;
    // a warm instance at hand is taken at once; a retry goes first in the line
    const lease = call.attempt === 1 ? pool.tryAcquire(call.target) : undefined;
    if (lease) {
      this.#run(call, lease);
      return;
    }
    pool.acquire(call.target, call.waitMs, call.attempt > 1, (l) => this.#run(call, l), (err) => {
      // an init failure is the function's error, reported for this invocation (as Lambda does)
      if (err instanceof InitFailure) call.onResult(this.#finish(call, true, null, { ok: false, error: err.error, logs: err.logs, retire: true }, []));
      else call.onError(err);
    });
  }

  #run(call: Call, lease: Lease): void {
    const pool = this.#o.pool;
    let answered = false;
    const done = (outcome: InvokeOutcome): void => {
      answered = true;
      if (!outcome.ok) outcome = withLimitNote(outcome, lease.instance.limitNote());
      if (!outcome.ok && outcome.retire) pool.retire(lease);
      else pool.release(lease);
      // queued at an instance that then died: it never ran, so it can run on another one, as
      // long as the function still exists (deleting it ends its instances)
      if (outcome.ok || outcome.notStarted !== true || call.attempt === MAX_ATTEMPTS) {
        call.onResult(this.#finish(call, lease.cold, lease.initMs, outcome, lease.initLogs));
      } else if (!this.#exists(call.fn)) {
        call.onError(new AviaryError('FunctionNotFound', `function ${call.fn.name} was deleted while this request waited`));
      } else {
        call.attempt++;
        this.#acquire(call);
      }
    };
    try {
      lease.instance.invoke(call.request, done);
    } catch (err) {
      if (answered) throw err; // thrown by what ran after the answer, not by the instance
      // a broken instance (never specialised, or double-booked): a server fault, not the function's
      pool.retire(lease);
      call.onError(err as Error);
    }
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

  #finish(call: Call, cold: boolean, initMs: number | null, outcome: InvokeOutcome, initLogs: LogLine[]): InvokeResult {
    const { fn, version } = call;
    const requestId = call.request.requestId;
    const durationMs = performance.now() - call.started;
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
      source: call.input.source,
      status: outcome.ok ? 'succeeded' : 'failed',
      cold,
      startedAt: call.startedAt,
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

/** A failed invocation whose instance hit its process limit says so in its logs (why a fork failed). */
function withLimitNote(outcome: InvokeOutcome, note: string | undefined): InvokeOutcome {
  return note === undefined ? outcome : { ...outcome, logs: [...outcome.logs, { time: Date.now(), stream: 'stderr', message: note }] };
}
