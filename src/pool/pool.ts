import { AviaryError } from '../shared/errors.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import type { FunctionSpec, Instance, LogLine, Sandbox } from '../sandbox/index.ts';
import { SpareProcesses } from './spares.ts';

/** What the pool needs to know about one function version to run it. */
export interface PoolTarget {
  functionId: string;
  version: number;
  spec: FunctionSpec;
  maxInstances: number;
  minWarm: number;
}

export interface Lease {
  readonly instance: Instance;
  readonly target: PoolTarget;
  /** True when this acquire specialised a new instance (a cold start). */
  readonly cold: boolean;
  readonly initMs: number | null;
  /** Output of the init phase; belongs to the first invocation, as on Lambda. */
  readonly initLogs: LogLine[];
}

export interface PoolOptions {
  sandbox: Sandbox;
  idleTtlMs: number;
  /** Generic processes kept ready per runtime class. */
  prewarm: number;
  /** Requests that may wait for a busy function before 429. */
  queueLimit: number;
  /**
   * Invocations that may wait at a busy instance, behind the one it runs, when the function is
   * at its instance limit (0: none). The next one is then already in the instance's channel
   * when it answers, which saves a wake-up of both processes per invocation; only as many as
   * the function's recent run time says will start within QUEUE_MAX_WAIT_MS.
   */
  instanceQueue: number;
  clock?: Clock;
  /** Output an instance wrote between invocations (attributed to its last request). */
  onStrayLog?: (target: PoolTarget, requestId: string | null, line: LogLine) => void;
  warn?: (message: string) => void;
}

interface Entry {
  instance: Instance;
  target: PoolTarget;
  /** Leases out on this instance: the running invocation plus any queued behind it. */
  inflight: number;
  /** Specialised (init done): only then may invocations queue at it. */
  ready: boolean;
  idleSince: number;
  /** When its last invocation ended (performance.now()). */
  lastDoneAt: number;
}

/**
 * A request queues at a busy instance only if the invocations ahead of it there should be done
 * within this (their number × the function's average run time). So a hello function queues up
 * to `--instance-queue` deep, a 4 ms one two deep, and one that runs over 10 ms not at all: the
 * saved hand-off matters most for the shortest functions, and nobody waits long behind others
 * (instead of for whichever instance frees first).
 */
export const QUEUE_MAX_WAIT_MS = 10;
/** Weight of the newest run in a function's moving average. */
const RUN_MS_WEIGHT = 0.2;

/** What the pool adds to a lease to manage it. */
interface PoolLease extends Lease {
  /** When the lease was handed out (performance.now()). */
  readonly givenAt: number;
}

interface Waiter {
  target: PoolTarget;
  onLease: (lease: Lease) => void;
  onError: (err: Error) => void;
  /** When it stops waiting and gets 429 (clock ms). */
  deadline: number;
  waitMs: number;
}

/** Everything the pool tracks for one function (max-instances is per function, as Lambda's concurrency). */
interface Group {
  /** Instances alive or starting, busy or idle, of every version. */
  live: number;
  entries: Set<Entry>;
  /** Idle entries per version; the most recently used last (reused first: it is warmest). */
  idle: Map<number, Entry[]>;
  waiters: Waiter[];
  /**
   * One timer for the whole line, due at the earliest deadline (not one per waiter: under load
   * most requests wait a moment, and are handed an instance long before their deadline).
   */
  waitTimer: ReturnType<Clock['setTimeout']> | undefined;
  waitTimerAt: number;
  /** The version kept warm by min-warm (the newest), if any. */
  warmTarget: PoolTarget | undefined;
  /** Moving average of warm invocations' run time, ms; undefined until one finished. */
  runMs: number | undefined;
}

/**
 * Owns instance lifecycle: reuse of warm instances, specialisation of pre-started generic
 * processes on a cold start, per-function max instances with a bounded wait queue, min-warm,
 * idle reaping, and replacement of crashed instances. The API is small and total:
 * acquire / release / retire / drain. An instance that failed init is never reused.
 */
export class Pool {
  readonly #opts: PoolOptions;
  readonly #clock: Clock;
  readonly #groups = new Map<string, Group>();
  readonly #spares: SpareProcesses;
  /** Instance → its entry, so release/retire are O(1) on the hot path. */
  readonly #entries = new WeakMap<Instance, Entry>();
  #reaperHandle: ReturnType<Clock['setTimeout']> | undefined;
  #draining = false;

  constructor(opts: PoolOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#spares = new SpareProcesses(opts.sandbox, opts.prewarm, opts.warn ?? (() => {}));
    this.#scheduleReap();
  }

  /** Starts the generic processes for a runtime class ahead of the first cold start. */
  prewarm(runtime: 'node' | 'python', memoryMB: number): void {
    this.#spares.keepReady(runtime, memoryMB);
  }

  /** An idle instance of the target's version, or a place queued at a busy one: only what needs no waiting. */
  tryAcquire(target: PoolTarget): Lease | undefined {
    if (this.#draining) return undefined;
    const group = this.#groups.get(target.functionId);
    if (!group) return undefined;
    const entry = group.idle.get(target.version)?.at(-1);
    if (entry) return entry.instance.alive ? this.#lease(group.idle.get(target.version)!.pop()!, target) : undefined;
    // room to start one, an idle instance of another version to give its place up, or a line: acquire()
    if (group.live < target.maxInstances || group.idle.size > 0 || group.waiters.length > 0) return undefined;
    const queueAt = this.#queueable(group, target.version);
    return queueAt && this.#lease(queueAt, target);
  }

  /**
   * A warm instance of the target's version: reused, specialised from a spare, queued at, or
   * waited for. `retry` puts a request whose instance died before starting it first in line.
   * Exactly one of the callbacks is called, possibly before `acquire` returns.
   */
  acquire(target: PoolTarget, waitMs: number, retry: boolean, onLease: (lease: Lease) => void, onError: (err: Error) => void): void {
    if (this.#draining) {
      onError(new AviaryError('Unavailable', 'the server is shutting down; retry against another node or after restart'));
      return;
    }
    const group = this.#group(target.functionId);
    const idle = group.idle.get(target.version);
    let entry = idle?.pop();
    // an instance may have died while idle, its exit not yet processed: never hand it out
    while (entry && !entry.instance.alive) {
      this.#remove(group, entry);
      entry = idle?.pop();
    }
    if (entry) {
      onLease(this.#lease(entry, target));
      return;
    }
    if (group.live < target.maxInstances || this.#retireOneIdle(group)) {
      // room for one more, or an idle instance of another version gave its slot up
      this.#startFor(group, target).then(onLease, onError);
      return;
    }
    const queueAt = group.waiters.length === 0 ? this.#queueable(group, target.version) : undefined;
    if (queueAt) {
      onLease(this.#lease(queueAt, target));
      return;
    }
    if (group.waiters.length >= this.#opts.queueLimit) {
      onError(new AviaryError('TooManyRequests',
        `function ${target.spec.functionName} is at its limit of ${target.maxInstances} concurrent instances and ${group.waiters.length} requests are already waiting; retry later or deploy with a larger --max-instances`,
        { retryAfter: 1 }));
      return;
    }
    const waiter: Waiter = { target, onLease, onError, deadline: this.#clock.now() + waitMs, waitMs };
    if (retry) group.waiters.unshift(waiter);
    else group.waiters.push(waiter);
    if (group.waitTimer === undefined || waiter.deadline < group.waitTimerAt) this.#armWaitTimer(group, waiter.deadline);
  }

  #armWaitTimer(group: Group, at: number): void {
    if (group.waitTimer !== undefined) this.#clock.clearTimeout(group.waitTimer);
    group.waitTimerAt = at;
    group.waitTimer = this.#clock.setTimeout(() => this.#expireWaiters(group), Math.max(1, at - this.#clock.now()));
    group.waitTimer.unref();
  }

  /** Answers 429 to the requests that waited past their deadline; the timer follows the next one. */
  #expireWaiters(group: Group): void {
    group.waitTimer = undefined;
    const now = this.#clock.now();
    const expired: Waiter[] = [];
    let next = Infinity;
    group.waiters = group.waiters.filter((w) => {
      if (w.deadline <= now) expired.push(w);
      else next = Math.min(next, w.deadline);
      return w.deadline > now;
    });
    if (next !== Infinity) this.#armWaitTimer(group, next);
    for (const w of expired) {
      w.onError(new AviaryError('TooManyRequests',
        `function ${w.target.spec.functionName} stayed at its limit of ${w.target.maxInstances} concurrent instances for ${Math.round(w.waitMs / 1000)} s; retry later or deploy with a larger --max-instances`,
        { retryAfter: 1 }));
    }
  }

  #stopWaitTimer(group: Group): void {
    if (group.waitTimer !== undefined) this.#clock.clearTimeout(group.waitTimer);
    group.waitTimer = undefined;
  }

  #lease(entry: Entry, target: PoolTarget): PoolLease {
    entry.inflight++;
    return { instance: entry.instance, target, cold: false, initMs: null, initLogs: [], givenAt: performance.now() };
  }

  /** A busy, ready instance of `version` with room in its queue (the least loaded), if queueing pays. */
  #queueable(group: Group, version: number): Entry | undefined {
    let best: Entry | undefined;
    for (const e of group.entries) {
      if (e.target.version === version && this.#canQueueAt(group, e) && (!best || e.inflight < best.inflight)) best = e;
    }
    return best;
  }

  #canQueueAt(group: Group, e: Entry): boolean {
    const depth = this.#opts.instanceQueue;
    if (depth === 0 || group.runMs === undefined || e.inflight * group.runMs > QUEUE_MAX_WAIT_MS) return false;
    return e.ready && e.inflight > 0 && e.inflight <= depth && e.instance.canQueue && e.instance.alive;
  }

  /** Folds a finished warm invocation's run time into its function's average. */
  #noteRun(group: Group, entry: Entry, lease: PoolLease): void {
    const now = performance.now();
    // invocations on one instance run one after another: this one began when it was handed
    // out or when the one before it on the instance ended, whichever was later
    const ranMs = now - Math.max(lease.givenAt, entry.lastDoneAt);
    entry.lastDoneAt = now;
    if (lease.cold) return;
    group.runMs = group.runMs === undefined ? ranMs : group.runMs + RUN_MS_WEIGHT * (ranMs - group.runMs);
  }

  /**
   * After a cold start has answered, start the spare that replaces the one it took — on a
   * later turn of the event loop: spawning blocks it for ~5 ms, which the response that is
   * being written must not wait for.
   */
  #refillAfter(lease: Lease): void {
    const runtime = lease.target.spec.runtime;
    if (!lease.cold || runtime === 'provided') return;
    setImmediate(() => {
      if (!this.#draining) this.#spares.keepReady(runtime, lease.target.spec.memoryMB);
    });
  }

  /**
   * Returns a healthy instance after an invocation: it goes on with the next invocation queued
   * at it, or is handed to a waiter, or is kept idle.
   */
  release(lease: Lease): void {
    this.#refillAfter(lease);
    const group = this.#groups.get(lease.target.functionId);
    const entry = this.#entries.get(lease.instance);
    if (!group || !entry || !group.entries.has(entry)) {
      lease.instance.kill();
      return;
    }
    entry.inflight--;
    this.#noteRun(group, entry, lease as PoolLease);
    if (!entry.instance.alive || this.#draining) {
      this.#remove(group, entry);
      return;
    }
    const i = group.waiters.findIndex((w) => w.target.version === entry.target.version);
    if (entry.inflight > 0) {
      // it runs the invocation that was queued at it; a waiter may take the freed queue place
      if (i !== -1 && this.#canQueueAt(group, entry)) this.#handTo(group, i, entry);
      return;
    }
    if (i !== -1) {
      this.#handTo(group, i, entry);
      return;
    }
    if (group.waiters.length > 0) {
      // the waiters want another version: free this slot for them
      this.#remove(group, entry);
      return;
    }
    entry.idleSince = this.#clock.now();
    let list = group.idle.get(entry.target.version);
    if (!list) group.idle.set(entry.target.version, (list = []));
    list.push(entry);
  }

  #handTo(group: Group, waiterIndex: number, entry: Entry): void {
    const w = waiterIndex === 0 ? group.waiters.shift()! : group.waiters.splice(waiterIndex, 1)[0]!;
    w.onLease(this.#lease(entry, w.target));
  }

  /** Ends an instance that must not be reused (timed out, crashed, broke the protocol). */
  retire(lease: Lease): void {
    this.#refillAfter(lease);
    const group = this.#groups.get(lease.target.functionId);
    const entry = this.#entries.get(lease.instance);
    if (group && entry && group.entries.has(entry)) {
      // a timed-out run counts too: a function that sometimes hangs should not queue behind it
      this.#noteRun(group, entry, lease as PoolLease);
      this.#remove(group, entry);
    } else {
      lease.instance.kill();
    }
  }

  /** Keeps `target.minWarm` instances of this version specialised (the newest version of a function). */
  setWarmTarget(target: PoolTarget): void {
    const group = this.#group(target.functionId);
    group.warmTarget = target.minWarm > 0 ? target : undefined;
    this.#fillMinWarm(group);
  }

  /** Ends every instance of a function (deleted) and forgets it. */
  removeFunction(functionId: string): void {
    const group = this.#groups.get(functionId);
    if (!group) return;
    group.warmTarget = undefined;
    this.#stopWaitTimer(group);
    for (const w of group.waiters.splice(0)) {
      w.onError(new AviaryError('FunctionNotFound', `function ${w.target.spec.functionName} was deleted while this request waited`));
    }
    for (const e of [...group.entries]) if (e.inflight === 0) this.#remove(group, e);
    // forgotten now: instances still busy are killed when released (their group is gone), and a
    // function deployed again under the same name gets a new id
    this.#groups.delete(functionId);
  }

  /**
   * Counts for tests, metrics and `aviary get`: instances, and requests waiting for one (in the
   * function's queue, or queued at a busy instance).
   */
  stats(functionId: string): { live: number; idle: number; busy: number; waiting: number; queued: number } {
    const g = this.#groups.get(functionId);
    if (!g) return { live: 0, idle: 0, busy: 0, waiting: 0, queued: 0 };
    let busy = 0;
    let queued = 0;
    for (const e of g.entries) {
      if (e.inflight > 0) busy++;
      if (e.inflight > 1) queued += e.inflight - 1;
    }
    return { live: g.live, idle: g.entries.size - busy, busy, waiting: g.waiters.length, queued };
  }

  /** Stops everything: waiters get 503, instances and spares are killed. */
  async drain(): Promise<void> {
    this.#draining = true;
    if (this.#reaperHandle) this.#clock.clearTimeout(this.#reaperHandle);
    const exits: Promise<void>[] = [];
    for (const group of this.#groups.values()) {
      this.#stopWaitTimer(group);
      for (const w of group.waiters.splice(0)) w.onError(new AviaryError('Unavailable', 'the server is shutting down'));
      for (const e of group.entries) {
        exits.push(new Promise((resolve) => e.instance.onExit(() => resolve())));
        e.instance.kill();
      }
    }
    exits.push(this.#spares.drain());
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  #group(functionId: string): Group {
    let g = this.#groups.get(functionId);
    if (!g) {
      g = { live: 0, entries: new Set(), idle: new Map(), waiters: [], waitTimer: undefined, waitTimerAt: 0, warmTarget: undefined, runMs: undefined };
      this.#groups.set(functionId, g);
    }
    return g;
  }

  /** Starts and specialises an instance for `target`; the caller already counted it in `live`. */
  async #startFor(group: Group, target: PoolTarget): Promise<PoolLease> {
    group.live++;
    let instance: Instance | undefined;
    try {
      instance = target.spec.runtime === 'provided'
        ? this.#opts.sandbox.startProvided()
        : await this.#spares.take(target.spec.runtime, target.spec.memoryMB);
      const entry: Entry = { instance, target, inflight: 1, ready: false, idleSince: 0, lastDoneAt: 0 };
      group.entries.add(entry);
      this.#entries.set(instance, entry);
      instance.onExit(() => this.#onExit(target.functionId, entry));
      instance.setStrayLogSink((requestId, line) => this.#opts.onStrayLog?.(target, requestId, line));
      const { initMs, logs } = await instance.specialise(target.spec);
      entry.ready = true;
      return { instance, target, cold: true, initMs, initLogs: logs, givenAt: performance.now() };
    } catch (err) {
      const runtime = target.spec.runtime;
      if (runtime !== 'provided' && !this.#draining) this.#spares.keepReady(runtime, target.spec.memoryMB);
      if (instance) {
        instance.kill();
        const entry = this.#entries.get(instance);
        if (entry && group.entries.has(entry)) this.#remove(group, entry);
        else this.#freeSlot(group);
      } else {
        this.#freeSlot(group);
      }
      throw err;
    }
  }

  #onExit(functionId: string, entry: Entry): void {
    const group = this.#groups.get(functionId);
    if (group?.entries.has(entry)) this.#remove(group, entry);
  }

  #remove(group: Group, entry: Entry): void {
    if (!group.entries.delete(entry)) return;
    const list = group.idle.get(entry.target.version);
    if (list) {
      const i = list.indexOf(entry);
      if (i !== -1) list.splice(i, 1);
      if (list.length === 0) group.idle.delete(entry.target.version);
    }
    entry.instance.kill();
    this.#freeSlot(group);
  }

  /** A slot opened: serve the longest-waiting request, else top up min-warm. */
  #freeSlot(group: Group): void {
    group.live--;
    if (this.#draining) return;
    const w = group.waiters.shift();
    if (w) {
      this.#startFor(group, w.target).then(w.onLease, w.onError);
      return;
    }
    this.#fillMinWarm(group);
  }

  #fillMinWarm(group: Group): void {
    const t = group.warmTarget;
    if (!t || this.#draining) return;
    let have = 0;
    for (const e of group.entries) if (e.target.version === t.version) have++;
    const want = Math.min(t.minWarm, t.maxInstances);
    for (; have < want && group.live < t.maxInstances; have++) {
      this.#startFor(group, t).then(
        (lease) => this.release(lease),
        (err: Error) => this.#opts.warn?.(`min-warm: could not start ${t.spec.functionName}:${t.version}: ${err.message}`),
      );
    }
  }

  #retireOneIdle(group: Group): boolean {
    let oldest: Entry | undefined;
    for (const list of group.idle.values()) {
      const e = list[0];
      if (e && (!oldest || e.idleSince < oldest.idleSince)) oldest = e;
    }
    if (!oldest) return false;
    // #remove frees the slot; take it back for the caller, who starts its own instance
    group.live++;
    this.#remove(group, oldest);
    group.live--;
    return true;
  }

  #scheduleReap(): void {
    const every = Math.max(1000, Math.min(this.#opts.idleTtlMs / 4, 30_000));
    this.#reaperHandle = this.#clock.setTimeout(() => {
      this.reapIdle();
      this.#scheduleReap();
    }, every);
    this.#reaperHandle.unref();
  }

  /** Ends instances idle for longer than the TTL, keeping min-warm ones. Runs on a timer; public for tests. */
  reapIdle(): void {
    const cutoff = this.#clock.now() - this.#opts.idleTtlMs;
    for (const [id, group] of this.#groups) {
      const t = group.warmTarget;
      let keep = t ? Math.min(t.minWarm, t.maxInstances) : 0;
      if (t) for (const e of group.entries) if (e.inflight > 0 && e.target.version === t.version) keep--;
      for (const [version, list] of [...group.idle]) {
        // newest-used last: keep the warmest ones for min-warm
        for (const e of [...list].reverse()) {
          if (t && version === t.version && keep > 0) {
            keep--;
            continue;
          }
          if (e.idleSince <= cutoff) this.#remove(group, e);
        }
      }
      if (group.entries.size === 0 && group.waiters.length === 0 && !group.warmTarget) this.#groups.delete(id);
    }
  }
}
