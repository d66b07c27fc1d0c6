import { randomBytes } from 'node:crypto';
import { parseInput } from '../../registry/index.ts';
import { systemClock, type Clock } from '../../shared/clock.ts';
import { AviaryError, isAviaryError, validationError, type FieldIssue } from '../../shared/errors.ts';
import { checkTimeZone, InvalidSchedule, parseExpression, type Expression } from './schedule.ts';
import { SCHEDULE_LIMITS, scheduleSchema } from './schemas.ts';
import { conflict, type FireState, type ScheduleRecord, type ScheduleStore } from './store.ts';

/** What schedules need of the registry: resolving a function reference, and hearing of deletions. */
export interface FunctionDirectory {
  /** Throws FunctionNotFound or VersionNotFound. */
  resolve(namespace: string, ref: string): { fn: { id: string; name: string } };
  onChange(listener: (e: { type: string; fn: { id: string } }) => void): void;
}

export interface ScheduleEntry {
  record: ScheduleRecord;
  expression: Expression;
}

export type ScheduleChange = { type: 'created' | 'paused' | 'resumed' | 'deleted'; schedule: ScheduleRecord };

/**
 * Schedules as data: validation, persistence and an in-memory view, each change written to the
 * store first and applied to memory once committed. The `Scheduler` fires them; it hears of
 * every change through `onChange`.
 */
export class Schedules {
  readonly #store: ScheduleStore;
  readonly #functions: FunctionDirectory;
  readonly #clock: Clock;
  readonly #byId = new Map<string, ScheduleEntry>();
  readonly #listeners: ((c: ScheduleChange) => void)[] = [];

  private constructor(store: ScheduleStore, functions: FunctionDirectory, clock: Clock) {
    this.#store = store;
    this.#functions = functions;
    this.#clock = clock;
  }

  static async load(options: { store: ScheduleStore; functions: FunctionDirectory; clock?: Clock; warn?: (m: string) => void }): Promise<Schedules> {
    const s = new Schedules(options.store, options.functions, options.clock ?? systemClock);
    for (const record of await options.store.listSchedules()) {
      try {
        s.#byId.set(record.id, { record, expression: parseExpression(record.expression, record.timezone, record.createdAt, record.createdAt) });
      } catch (err) {
        // stored rows were valid when created; a zone dropped from the time-zone database is the one way out
        options.warn?.(`schedule ${record.namespace}/${record.name} is not loaded: ${(err as Error).message}`);
      }
    }
    // the database deleted them with the function (cascade); forget them here too
    options.functions.onChange((e) => {
      if (e.type === 'deleted') s.#removeFunction(e.fn.id);
    });
    return s;
  }

  onChange(listener: (c: ScheduleChange) => void): void {
    this.#listeners.push(listener);
  }

  list(namespace: string): ScheduleEntry[] {
    return [...this.#byId.values()].filter((e) => e.record.namespace === namespace)
      .sort((a, b) => a.record.name.localeCompare(b.record.name));
  }

  /** Every schedule of every namespace (the scheduler's view). */
  all(): ScheduleEntry[] {
    return [...this.#byId.values()];
  }

  byId(id: string): ScheduleEntry | undefined {
    return this.#byId.get(id);
  }

  get(namespace: string, name: string): ScheduleEntry {
    const entry = this.#find(namespace, name);
    if (!entry) throw new AviaryError('ScheduleNotFound', `no schedule named ${name}; list schedules with \`aviary schedule list\``);
    return entry;
  }

  /** The next `count` fire times after now (none while paused). */
  upcoming(entry: ScheduleEntry, count: number = SCHEDULE_LIMITS.upcoming): number[] {
    const times: number[] = [];
    let t = entry.record.nextFireAt;
    while (t !== null && t !== undefined && times.length < count) {
      times.push(t);
      t = entry.expression.next(t) ?? null;
    }
    return times;
  }

  /** Validates everything first; an invalid body, unknown function or taken name changes nothing. */
  async create(namespace: string, body: unknown): Promise<ScheduleRecord> {
    const input = parseInput(scheduleSchema, body, 'schedule');
    const now = this.#clock.now();
    const issues: FieldIssue[] = [];
    let timezone = input.timezone;
    try {
      timezone = checkTimeZone(input.timezone);
    } catch (err) {
      issues.push(issueOf(err));
      timezone = 'UTC';
    }
    let expression: Expression | undefined;
    try {
      expression = parseExpression(input.expression, timezone, now, now);
    } catch (err) {
      issues.push(issueOf(err));
    }
    const dataBytes = Buffer.byteLength(JSON.stringify(input.data));
    if (dataBytes > SCHEDULE_LIMITS.dataBytes) {
      issues.push({ path: 'data', message: `is ${dataBytes} bytes as JSON; the limit is ${SCHEDULE_LIMITS.dataBytes}` });
    }
    let fn: { id: string; name: string } | undefined;
    try {
      fn = this.#functions.resolve(namespace, input.function).fn;
    } catch (err) {
      if (!isAviaryError(err) || (err.code !== 'FunctionNotFound' && err.code !== 'VersionNotFound')) throw err;
      issues.push({ path: 'function', message: err.message });
    }
    if (issues.length > 0 || !expression || !fn) throw validationError(issues, 'schedule');
    if (this.#find(namespace, input.name)) throw conflict(input.name);

    const colon = input.function.indexOf(':');
    const qualifier = colon === -1 ? null : input.function.slice(colon + 1);
    const record: ScheduleRecord = {
      id: `sch_${randomBytes(8).toString('hex')}`,
      namespace,
      name: input.name,
      functionId: fn.id,
      functionName: fn.name,
      qualifier: qualifier === '$LATEST' ? null : qualifier,
      expression: input.expression.trim(),
      timezone,
      data: input.data,
      missedFirePolicy: input.missedFirePolicy,
      enabled: input.enabled,
      description: input.description,
      createdAt: now,
      updatedAt: now,
      lastFireAt: null,
      nextFireAt: input.enabled ? (expression.next(now) ?? null) : null,
      lastInvocationId: null,
      lastError: null,
    };
    await this.#store.createSchedule(record);
    this.#byId.set(record.id, { record, expression });
    this.#emit({ type: 'created', schedule: record });
    return record;
  }

  /** Stops firing; the schedule keeps its definition. Pausing a paused schedule is a no-op. */
  async pause(namespace: string, name: string): Promise<ScheduleRecord> {
    const entry = this.get(namespace, name);
    if (!entry.record.enabled) return entry.record;
    const now = this.#clock.now();
    await this.#store.setEnabled(entry.record.id, false, null, now);
    entry.record = { ...entry.record, enabled: false, nextFireAt: null, updatedAt: now };
    this.#emit({ type: 'paused', schedule: entry.record });
    return entry.record;
  }

  /** Fires again from the next time after now; fires missed while paused are not made up. */
  async resume(namespace: string, name: string): Promise<ScheduleRecord> {
    const entry = this.get(namespace, name);
    if (entry.record.enabled) return entry.record;
    const now = this.#clock.now();
    const next = entry.expression.next(now) ?? null;
    await this.#store.setEnabled(entry.record.id, true, next, now);
    entry.record = { ...entry.record, enabled: true, nextFireAt: next, updatedAt: now };
    this.#emit({ type: 'resumed', schedule: entry.record });
    return entry.record;
  }

  async delete(namespace: string, name: string): Promise<ScheduleRecord> {
    const entry = this.get(namespace, name);
    await this.#store.deleteSchedule(entry.record.id);
    this.#byId.delete(entry.record.id);
    this.#emit({ type: 'deleted', schedule: entry.record });
    return entry.record;
  }

  /**
   * Records a fire (or a skipped one) by the scheduler. The schedule may have been paused or
   * deleted while the fire was enqueued: a deleted one stays deleted, a paused one keeps no next time.
   */
  async recordFire(id: string, state: FireState): Promise<void> {
    const entry = this.#byId.get(id);
    if (!entry) return;
    const next = entry.record.enabled ? state.nextFireAt : null;
    const s = { ...state, nextFireAt: next };
    await this.#store.recordFire(id, s);
    const current = this.#byId.get(id);
    if (current) current.record = { ...current.record, ...s };
  }

  #find(namespace: string, name: string): ScheduleEntry | undefined {
    for (const e of this.#byId.values()) if (e.record.namespace === namespace && e.record.name === name) return e;
    return undefined;
  }

  #removeFunction(functionId: string): void {
    for (const [id, e] of this.#byId) {
      if (e.record.functionId !== functionId) continue;
      this.#byId.delete(id);
      this.#emit({ type: 'deleted', schedule: e.record });
    }
  }

  #emit(c: ScheduleChange): void {
    for (const l of this.#listeners) l(c);
  }
}

function issueOf(err: unknown): FieldIssue {
  if (err instanceof InvalidSchedule) return { path: err.field, message: err.message };
  throw err;
}
