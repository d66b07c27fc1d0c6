import { randomUUID } from 'node:crypto';
import type { AsyncInvoker } from '../../async/types.ts';
import { systemClock, type Clock } from '../../shared/clock.ts';
import { scheduledEvent } from './schedule.ts';
import type { ScheduleEntry, Schedules } from './schedules.ts';

/** setTimeout overflows past 2^31-1 ms (~24.8 days) and fires at once; longer waits re-arm. */
export const MAX_TIMER_MS = 24 * 24 * 3600 * 1000;
/** A fire reached later than this after its time was missed (server down, machine asleep). */
export const DEFAULT_MISSED_AFTER_MS = 60_000;
const RETRY_AFTER_ERROR_MS = 5_000;

export interface SchedulerOptions {
  schedules: Schedules;
  invoker: AsyncInvoker;
  clock?: Clock;
  warn?: (message: string) => void;
  missedAfterMs?: number;
  /** The event id of each fire; tests pass a counter. */
  newEventId?: () => string;
}

/**
 * Fires schedules as async invocations. One timer, armed for the earliest next fire of all
 * enabled schedules (never longer than MAX_TIMER_MS); each change to a schedule re-arms it.
 *
 * A fire reached within `missedAfterMs` of its time runs, as late as it is. One reached later
 * (the server was down or the machine slept) is missed, and its schedule's policy decides:
 * `skip` runs nothing, `run-once` runs one fire for the latest missed time; either way the
 * next fire is the first time after now, so a long outage never turns into a burst. The same
 * rule applies on start, so "missed while the server was down" needs no special case.
 *
 * Each fire is enqueued with the idempotency key `schedule:{id}:{time}` before its state is
 * saved: a crash between the two re-enqueues the same fire on start, and the queue drops it.
 */
export class Scheduler {
  readonly #schedules: Schedules;
  readonly #invoker: AsyncInvoker;
  readonly #clock: Clock;
  readonly #warn: (message: string) => void;
  readonly #missedAfterMs: number;
  readonly #newEventId: () => string;
  #timer: unknown;
  /** When the armed timer fires (ms since the epoch), for tests and diagnostics. */
  #armedFor: number | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  /** After a run failed (the store threw), wait this long before the next, rather than spin. */
  #retryAt = 0;
  #closed = false;

  constructor(options: SchedulerOptions) {
    this.#schedules = options.schedules;
    this.#invoker = options.invoker;
    this.#clock = options.clock ?? systemClock;
    this.#warn = options.warn ?? (() => {});
    this.#missedAfterMs = options.missedAfterMs ?? DEFAULT_MISSED_AFTER_MS;
    this.#newEventId = options.newEventId ?? randomUUID;
    this.#schedules.onChange(() => this.#arm());
  }

  /** Handles fires that fell due while the server was down, then arms the timer. */
  async start(): Promise<void> {
    await this.#run();
  }

  /** Resolves once no fire is in progress (tests step a fake clock, then await this). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** When the one timer is set to go off; undefined when nothing is scheduled. */
  get armedFor(): number | undefined {
    return this.#armedFor;
  }

  /** Stops the timer and waits for a fire in progress; nothing fires afterwards. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#disarm();
    await this.idle();
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = undefined;
  }

  #arm(): void {
    if (this.#closed) return;
    if (this.#running) {
      // the run re-arms when it ends, with the change applied
      this.#again = true;
      return;
    }
    this.#disarm();
    let earliest: number | undefined;
    for (const e of this.#schedules.all()) {
      const t = e.record.enabled ? e.record.nextFireAt : null;
      if (t !== null && (earliest === undefined || t < earliest)) earliest = t;
    }
    if (earliest === undefined) return;
    const now = this.#clock.now();
    const delay = Math.min(Math.max(0, earliest - now, this.#retryAt - now), MAX_TIMER_MS);
    this.#armedFor = now + delay;
    const handle = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#armedFor = undefined;
      void this.#run();
    }, delay);
    handle.unref();
    this.#timer = handle;
  }

  #run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#fireDue();
        } while (this.#again && !this.#closed);
      } catch (err) {
        this.#retryAt = this.#clock.now() + RETRY_AFTER_ERROR_MS;
        this.#warn(`scheduler: ${(err as Error).stack ?? String(err)}; trying again in ${RETRY_AFTER_ERROR_MS / 1000} s`);
      } finally {
        this.#running = undefined;
        this.#arm();
      }
    })();
    return this.#running;
  }

  /** Fires every schedule whose time has come, in time order, until none is due. */
  async #fireDue(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const now = this.#clock.now();
      let due: ScheduleEntry | undefined;
      for (const e of this.#schedules.all()) {
        const t = e.record.enabled ? e.record.nextFireAt : null;
        if (t !== null && t <= now && (due === undefined || t < (due.record.nextFireAt ?? Infinity))) due = e;
      }
      if (!due) return;
      await this.#fire(due, now);
    }
  }

  async #fire(entry: ScheduleEntry, now: number): Promise<void> {
    const { record, expression } = entry;
    const dueAt = record.nextFireAt as number;
    let fireAt: number | undefined = dueAt;
    let next: number | undefined;
    if (now - dueAt <= this.#missedAfterMs) {
      // on time (or late within the grace): this fire runs; a later one already due runs next
      next = expression.next(dueAt);
    } else {
      fireAt = record.missedFirePolicy === 'run-once' ? expression.latest(now) : undefined;
      next = expression.next(now);
      this.#warn(`schedule ${record.namespace}/${record.name} missed its fire at ${new Date(dueAt).toISOString()}${fireAt === undefined ? '' : ' and later ones'}; ${fireAt === undefined ? 'skipped (missedFirePolicy skip)' : `running once for ${new Date(fireAt).toISOString()} (missedFirePolicy run-once)`}`);
    }
    let lastInvocationId = record.lastInvocationId;
    let lastError = record.lastError;
    if (fireAt !== undefined) {
      try {
        const ref = record.qualifier === null ? record.functionName : `${record.functionName}:${record.qualifier}`;
        const result = await this.#invoker.enqueue({
          namespace: record.namespace,
          functionRef: ref,
          eventJson: scheduledEvent({ id: this.#newEventId(), namespace: record.namespace, name: record.name, scheduledAt: fireAt, data: record.data }),
          source: 'schedule',
          idempotencyKey: `schedule:${record.id}:${fireAt}`,
        });
        lastInvocationId = result.id;
        lastError = null;
      } catch (err) {
        // not retried here: once enqueued, the queue owns retries; an enqueue that fails is recorded and the schedule moves on
        lastError = `${new Date(fireAt).toISOString()}: ${(err as Error).message}`;
        this.#warn(`schedule ${record.namespace}/${record.name}: could not enqueue the fire at ${new Date(fireAt).toISOString()}: ${(err as Error).message}`);
      }
    }
    await this.#schedules.recordFire(record.id, {
      lastFireAt: fireAt ?? record.lastFireAt,
      nextFireAt: next ?? null,
      lastInvocationId,
      lastError,
    });
  }
}
