import type { InvokeInput, InvokeResult } from '../invoke/index.ts';
import type { FunctionEntry, ResolvedVersion } from '../registry/index.ts';
import type { VersionRecord } from '../store/index.ts';
import { httpStatusFor, isAviaryError } from '../shared/errors.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import { backoffDelay, jittered } from './backoff.ts';
import type { AsyncConfig, AsyncConfigs } from './config.ts';
import type { AsyncQueue, AttemptRecord, Condition, DeadLetterReason, DestinationDelivery, Finish, QueuedEvent } from './queue.ts';
import { destinationRecord, type RecordResponse } from './record.ts';
import type { AsyncSettings } from './settings.ts';
import { postWebhook, publishToTopic, routeDestination, type DeliveryOutcome, type TopicSink } from './destinations.ts';

/** Results larger than this are not kept on the event (a destination still receives them whole). */
export const MAX_KEPT_RESULT_BYTES = 256 * 1024;
/** Looks over every function (rather than those a wake named) at most this often when asked to. */
const FULL_LOOK_MIN_INTERVAL_MS = 10;
const MAINTENANCE_EVERY_MS = 60_000;
const PRUNE_EVERY_MS = 3_600_000;
const REDELIVER_BATCH = 1000;

export interface DispatcherOptions {
  queue: AsyncQueue;
  invoker: { invoke(input: InvokeInput): Promise<InvokeResult> };
  registry: { functionById(id: string): FunctionEntry | undefined; resolve(namespace: string, ref: string): ResolvedVersion };
  configs: AsyncConfigs;
  settings: AsyncSettings;
  /** Finished events are deleted after this long. */
  retentionMs: number;
  /**
   * The only server on its database (the embedded default): at start every event still marked
   * running was cut short by the previous process, whatever its lease says.
   */
  exclusive: boolean;
  warn: (message: string) => void;
  /** The server's topics, for topic destinations. */
  topics?: TopicSink | undefined;
  clock?: Clock;
  random?: () => number;
  postWebhook?: typeof postWebhook;
}

type Failure = { attempt: AttemptRecord | null; errorJson: string; response: RecordResponse | null };

/**
 * Runs queued events: claims due ones under a lease, runs each through the one invoke pipeline
 * (source `async`), then completes it, schedules a retry (exponential backoff, full jitter) or
 * dead-letters it, and fires its destination. Each function is held to its max instances, so
 * a function with a backlog never takes the slots of another. At-least-once: an event cut short
 * by a crash keeps its claim and runs again once the lease is recovered.
 *
 * What to claim: a wake names the function that has news (an event queued, a run finished), and
 * the next claim asks for that function's due events only; a timer (the next due retry, or the
 * poll interval) looks over every function with queued events. Neither reads a backlog.
 */
export class AsyncDispatcher {
  readonly #o: DispatcherOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #post: typeof postWebhook;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #active = 0;
  readonly #inflight = new Map<string, number>();
  readonly #tasks = new Set<Promise<void>>();
  /** Functions named by wakes since the last claim. */
  readonly #hints = new Set<string>();
  /** The next claim looks over every function. */
  #lookAll = false;
  #lastLookAll = Number.NEGATIVE_INFINITY;
  #immediate = false;
  #timer: ReturnType<Clock['setTimeout']> | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #pumping = false;
  #again = false;
  /** Rotates the order functions are served in when slots are short. */
  #turn = 0;
  #maintenance: ReturnType<Clock['setTimeout']> | undefined;
  #lastPrune = 0;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#post = options.postWebhook ?? postWebhook;
  }

  /** Recovers what a previous process left running, resumes pending webhook and topic deliveries, starts claiming. */
  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    const now = this.#clock.now();
    const recovered = await this.#o.queue.recover(this.#o.exclusive ? Number.MAX_SAFE_INTEGER : now, now);
    if (recovered > 0) this.#o.warn(`async: ${recovered} events were running when the server last stopped; they run again now (at-least-once)`);
    this.#state = 'running';
    this.#lastPrune = now;
    for (const { event, record } of await this.#o.queue.pendingDeliveries(REDELIVER_BATCH)) {
      if (event.destination) this.#track(this.#deliver(event.id, event.namespace, event.destination, record));
    }
    this.#scheduleMaintenance();
    this.wake();
  }

  /**
   * Something changed: claim soon. With a function id (an event of it was queued, or one of its
   * runs ended) only that function is looked at; without, every function is.
   */
  wake(functionId?: string): void {
    if (this.#state !== 'running') return;
    if (functionId === undefined) this.#lookAll = true;
    else this.#hints.add(functionId);
    if (this.#immediate) return;
    this.#immediate = true;
    setImmediate(() => {
      this.#immediate = false;
      void this.#pump();
    });
  }

  /** Stops claiming and waits (bounded) for running events; those still running stay claimed and run again after restart. */
  async stop(): Promise<void> {
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    if (this.#maintenance) this.#clock.clearTimeout(this.#maintenance);
    this.#timer = undefined;
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#tasks]),
      new Promise<void>((resolve) => (timer = this.#clock.setTimeout(resolve, this.#o.settings.stopWaitMs))),
    ]);
    if (timer) this.#clock.clearTimeout(timer);
    this.#state = 'stopped';
  }

  /** Counts for tests and metrics. */
  stats(): { running: number } {
    return { running: this.#active };
  }

  /** A look over every function in `delayMs` (the earliest such timer wins). */
  #lookAllIn(delayMs: number): void {
    if (this.#state !== 'running') return;
    const at = this.#clock.now() + delayMs;
    if (this.#timer && this.#timerAt <= at) return;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#lookAll = true;
      void this.#pump();
    }, delayMs);
    this.#timer.unref();
  }

  async #pump(): Promise<void> {
    if (this.#state !== 'running') return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        await this.#claimOnce();
      } while (this.#again && this.#state === 'running');
    } catch (err) {
      if (this.#state === 'running') {
        this.#o.warn(`async: claiming events failed (retrying in ${this.#o.settings.pollMs} ms): ${(err as Error).message}`);
        this.#lookAllIn(this.#o.settings.pollMs);
      }
    } finally {
      this.#pumping = false;
    }
  }

  async #claimOnce(): Promise<void> {
    const { settings, queue } = this.#o;
    let free = settings.concurrency - this.#active;
    // no slot: keep the news for the claim a finishing run will trigger
    if (free <= 0) return;
    const now = this.#clock.now();
    let candidates: string[];
    if (this.#lookAll && now - this.#lastLookAll >= FULL_LOOK_MIN_INTERVAL_MS) {
      this.#lookAll = false;
      this.#lastLookAll = now;
      this.#hints.clear();
      let nextDue = now + settings.pollMs;
      candidates = [];
      for (const d of await queue.due()) {
        if (d.nextAttemptAt <= now) candidates.push(d.functionId);
        else if (this.#room(d.functionId) > 0) nextDue = Math.min(nextDue, d.nextAttemptAt);
      }
      const turn = this.#turn++ % Math.max(candidates.length, 1);
      candidates = [...candidates.slice(turn), ...candidates.slice(0, turn)];
      this.#lookAllIn(Math.max(0, nextDue - now));
    } else {
      if (this.#lookAll) this.#lookAllIn(FULL_LOOK_MIN_INTERVAL_MS);
      candidates = [...this.#hints];
      this.#hints.clear();
    }
    const asks: { functionId: string; limit: number; leaseUntil: number }[] = [];
    for (const functionId of candidates) {
      const limit = Math.min(this.#room(functionId), free);
      if (free <= 0) {
        // slots ran out before every function with due events was served: the next claim looks at all, in a new order
        this.#lookAll = true;
        break;
      }
      if (limit <= 0) continue;
      asks.push({ functionId, limit, leaseUntil: now + this.#leaseMs(functionId) });
      free -= limit;
    }
    if (asks.length === 0) return;
    // a function that got all it asked for is now full: its next claim comes when one of its runs ends
    for (const e of await queue.claim({ now, functions: asks })) this.#launch(e);
  }

  #latest(functionId: string): VersionRecord | undefined {
    const entry = this.#o.registry.functionById(functionId);
    return entry?.versions.get(entry.record.latestVersion);
  }

  /** Events of this function that may start now: its max instances less those already running. */
  #room(functionId: string): number {
    return (this.#latest(functionId)?.maxInstances ?? 1) - (this.#inflight.get(functionId) ?? 0);
  }

  /**
   * An attempt takes at most: the wait for an instance (10 s + timeout), its init (10 s) and the
   * run (timeout). A lease outlives that by the configured margin, so only an abandoned claim
   * expires. (A qualified event may run an older version with a longer timeout: the maximum is used.)
   */
  #leaseMs(functionId: string): number {
    const entry = this.#o.registry.functionById(functionId);
    let timeoutS = 900;
    if (entry) {
      timeoutS = 0;
      for (const v of entry.versions.values()) timeoutS = Math.max(timeoutS, v.timeout);
    }
    return (2 * timeoutS + 20) * 1000 + this.#o.settings.leaseMs;
  }

  #launch(e: QueuedEvent): void {
    this.#active++;
    this.#inflight.set(e.functionId, (this.#inflight.get(e.functionId) ?? 0) + 1);
    this.#track(this.#run(e).catch((err: unknown) => {
      this.#o.warn(`async: event ${e.id} of ${e.functionName}: ${(err as Error).stack ?? String(err)}`);
    }).finally(() => {
      this.#active--;
      const n = (this.#inflight.get(e.functionId) ?? 1) - 1;
      if (n <= 0) this.#inflight.delete(e.functionId);
      else this.#inflight.set(e.functionId, n);
      this.wake(e.functionId);
    }));
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  /** Writes are skipped once stop() has given up waiting: the event keeps its claim and runs again after restart. */
  get #writable(): boolean {
    return this.#state === 'running' || this.#state === 'stopping';
  }

  async #run(e: QueuedEvent): Promise<void> {
    const { queue } = this.#o;
    const entry = this.#o.registry.functionById(e.functionId);
    if (!entry) {
      // deleted (with its queue) after this event was claimed: nothing to run, nowhere to report
      await this.#finish(e, null, { status: 'failed', attempt: null, errorJson: errorJson('FunctionNotFound', `function ${e.functionName} was deleted`) }, null);
      return;
    }
    const config = this.#o.configs.get(e.functionId);
    const startedAt = this.#clock.now();
    if (startedAt - e.enqueuedAt >= config.maxEventAgeSeconds * 1000) {
      await this.#giveUp(e, config, 'EventAgeExceeded', { attempt: null, errorJson: e.error ?? errorJson('EventAgeExceeded', `the event was older than its maximum age of ${config.maxEventAgeSeconds} s before it could run`), response: null });
      return;
    }
    const t0 = performance.now();
    let r: InvokeResult;
    try {
      r = await this.#o.invoker.invoke({ namespace: e.namespace, ref: e.functionName, qualifier: e.qualifier, eventJson: e.payload, source: 'async' });
    } catch (err) {
      if (!this.#writable) return;
      const code = isAviaryError(err) ? err.code : 'InternalError';
      if (code === 'TooManyRequests' || code === 'Unavailable') {
        // no instance was free (or the server is stopping): the event did not run, so it costs no attempt
        const wait = jittered(this.#o.settings.throttleDelayMs, this.#random);
        if (await queue.retry(e.id, e.leaseToken, { nextAttemptAt: this.#clock.now() + wait, attempt: null, error: null })) this.#lookAllIn(wait);
        return;
      }
      const message = (err as Error).message;
      if (code === 'FunctionNotFound') {
        await this.#finish(e, config, { status: 'failed', attempt: null, errorJson: errorJson(code, message) }, null);
        return;
      }
      const attempt: AttemptRecord = { requestId: '', startedAt, durationMs: performance.now() - t0, version: null, status: 'failed', errorType: code };
      const json = errorJson(code, message);
      await this.#failed(e, config, { attempt, errorJson: json, response: { ok: false, version: null, errorJson: json, functionError: false, statusCode: httpStatusFor(code) } });
      return;
    }
    if (!this.#writable) return;
    const attempt: AttemptRecord = {
      requestId: r.requestId, startedAt, durationMs: Math.round(r.durationMs * 1000) / 1000, version: r.version.version,
      status: r.ok ? 'succeeded' : 'failed', ...(r.error ? { errorType: r.error.errorType } : {}),
    };
    if (r.ok) {
      const resultJson = JSON.stringify(r.result ?? null);
      await this.#finish(e, config, { status: 'succeeded', attempt, resultJson, errorJson: null }, { condition: 'Success', response: { ok: true, version: r.version.version, resultJson } });
      return;
    }
    const json = JSON.stringify(r.error);
    await this.#failed(e, config, { attempt, errorJson: json, response: { ok: false, version: r.version.version, errorJson: json, functionError: true, statusCode: 200 } });
  }

  /** A run failed: retry after a backoff while retries and age allow, else give up. */
  async #failed(e: QueuedEvent, config: AsyncConfig, f: Failure): Promise<void> {
    if (e.attempts > config.retries) {
      await this.#giveUp(e, config, 'RetriesExhausted', f);
      return;
    }
    const wait = backoffDelay(e.attempts, { baseMs: this.#o.settings.retryBaseMs, capMs: this.#o.settings.retryCapMs }, this.#random);
    const next = this.#clock.now() + wait;
    if (next - e.enqueuedAt >= config.maxEventAgeSeconds * 1000) {
      await this.#giveUp(e, config, 'EventAgeExceeded', f);
      return;
    }
    if (await this.#o.queue.retry(e.id, e.leaseToken, { nextAttemptAt: next, attempt: f.attempt, error: f.errorJson })) this.#lookAllIn(wait);
  }

  async #giveUp(e: QueuedEvent, config: AsyncConfig, reason: DeadLetterReason, f: Failure): Promise<void> {
    await this.#finish(e, config, { status: 'failed', attempt: f.attempt, errorJson: f.errorJson, deadLetter: reason }, { condition: reason, response: f.response });
  }

  /**
   * Ends the event, with its dead letter and (for a function destination) the destination's
   * event in the same commit; a webhook or topic delivery starts once that commit is done.
   */
  async #finish(
    e: QueuedEvent,
    config: AsyncConfig | null,
    end: { status: 'succeeded' | 'failed'; attempt: AttemptRecord | null; resultJson?: string; errorJson: string | null; deadLetter?: DeadLetterReason },
    fire: { condition: Condition; response: RecordResponse | null } | null,
  ): Promise<void> {
    const at = this.#clock.now();
    const resultBytes = end.resultJson === undefined ? null : Buffer.byteLength(end.resultJson);
    const finish: Finish = {
      status: end.status,
      at,
      attempt: end.attempt,
      result: end.resultJson !== undefined && resultBytes !== null && resultBytes <= MAX_KEPT_RESULT_BYTES ? end.resultJson : null,
      resultBytes,
      error: end.errorJson,
      deadLetter: end.deadLetter ?? null,
      destination: null,
      destinationRecord: null,
      followUp: null,
    };
    const target = fire && config ? (fire.condition === 'Success' ? config.onSuccess : config.onFailure) : null;
    if (fire && target) {
      const attempts = e.attempts - (end.attempt === null ? 1 : 0);
      const record = destinationRecord({ eventId: e.id, functionName: e.functionName, qualifier: e.qualifier, condition: fire.condition, attempts, payload: e.payload, at, response: fire.response });
      Object.assign(finish, routeDestination(e, target, fire.condition, record, at, this.#o.registry));
    }
    const done = await this.#o.queue.finish(e.id, e.leaseToken, finish);
    if (!done) return;
    if (finish.followUp) this.wake(finish.followUp.functionId);
    const d = finish.destination;
    if (d?.status === 'pending') this.#track(this.#deliver(e.id, e.namespace, d, finish.destinationRecord!));
  }

  /** Posts a pending webhook or publishes to a pending topic (with bounded retries), then records how that went. */
  async #deliver(eventId: string, namespace: string, pending: DestinationDelivery, record: string): Promise<void> {
    const s = this.#o.settings;
    const options = { attempts: s.webhookAttempts, timeoutMs: s.webhookTimeoutMs, retryBaseMs: s.webhookRetryBaseMs, clock: this.#clock, random: this.#random };
    let outcome: DeliveryOutcome;
    try {
      if (pending.type === 'webhook') outcome = await this.#post(pending.target, record, { 'x-aviary-invocation-id': eventId }, options);
      else if (pending.type === 'topic' && this.#o.topics) outcome = await publishToTopic(this.#o.topics, namespace, pending.target, record, options);
      else outcome = { ok: false, attempts: 0, error: `${pending.type} destinations are not delivered by this server` };
    } catch (err) {
      outcome = { ok: false, attempts: 1, error: (err as Error).message };
    }
    // stopped meanwhile: the delivery stays pending and is made again after restart
    if (!this.#writable) return;
    const delivery: DestinationDelivery = {
      ...pending, status: outcome.ok ? 'delivered' : 'failed', attempts: outcome.attempts, at: this.#clock.now(),
      ...(outcome.error && !outcome.ok ? { error: outcome.error } : {}),
    };
    try {
      await this.#o.queue.recordDelivery(eventId, delivery);
    } catch (err) {
      this.#o.warn(`async: recording the ${pending.type} delivery of ${eventId} failed: ${(err as Error).message}`);
    }
    if (!outcome.ok) {
      this.#o.warn(`async: the ${pending.condition === 'Success' ? 'on-success' : 'on-failure'} ${pending.type} ${pending.target} for ${eventId} failed after ${outcome.attempts} tries: ${outcome.error}`);
    }
  }

  /** Every minute: recover abandoned leases; every hour: prune finished events past retention. */
  #scheduleMaintenance(): void {
    this.#maintenance = this.#clock.setTimeout(() => {
      void this.maintain().finally(() => {
        if (this.#state === 'running') this.#scheduleMaintenance();
      });
    }, MAINTENANCE_EVERY_MS);
    this.#maintenance.unref();
  }

  /** Runs on a timer; public for tests. */
  async maintain(): Promise<void> {
    if (this.#state !== 'running') return;
    const now = this.#clock.now();
    try {
      const recovered = await this.#o.queue.recover(now, now);
      if (recovered > 0) {
        this.#o.warn(`async: ${recovered} events outlived their lease of ${this.#o.settings.leaseMs} ms; they run again`);
        this.wake();
      }
      if (now - this.#lastPrune >= PRUNE_EVERY_MS) {
        this.#lastPrune = now;
        await this.#o.queue.prune(now - this.#o.retentionMs, now);
      }
    } catch (err) {
      this.#o.warn(`async: maintenance failed: ${(err as Error).message}`);
    }
  }
}

function errorJson(errorType: string, errorMessage: string): string {
  return JSON.stringify({ errorType, errorMessage });
}
