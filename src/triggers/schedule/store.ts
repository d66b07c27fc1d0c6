import type { SqliteDatabase } from '../../store/index.ts';
import { AviaryError } from '../../shared/errors.ts';
import type { MissedFirePolicy } from './schedule.ts';

export interface ScheduleRecord {
  id: string;
  namespace: string;
  name: string;
  functionId: string;
  functionName: string;
  /** A version number, alias or null for the newest version. */
  qualifier: string | null;
  expression: string;
  timezone: string;
  data: Record<string, unknown>;
  missedFirePolicy: MissedFirePolicy;
  enabled: boolean;
  description: string;
  createdAt: number;
  updatedAt: number;
  /** Scheduled time of the last fire (not when it ran). */
  lastFireAt: number | null;
  /** Scheduled time of the next fire; null while paused or when the expression has no future time. */
  nextFireAt: number | null;
  lastInvocationId: string | null;
  /** Why the last fire could not be enqueued; null after a fire that was. */
  lastError: string | null;
}

export interface FireState {
  lastFireAt: number | null;
  nextFireAt: number | null;
  lastInvocationId: string | null;
  lastError: string | null;
}

/**
 * Persistence of schedules. Async so a networked database fits behind it; `SqliteScheduleStore`
 * is the embedded one. Deleting a function deletes its schedules (a foreign-key cascade).
 */
export interface ScheduleStore {
  listSchedules(): Promise<ScheduleRecord[]>;
  /** Throws ScheduleConflict when the namespace already has a schedule of that name. */
  createSchedule(schedule: ScheduleRecord): Promise<void>;
  setEnabled(id: string, enabled: boolean, nextFireAt: number | null, updatedAt: number): Promise<void>;
  recordFire(id: string, state: FireState): Promise<void>;
  deleteSchedule(id: string): Promise<void>;
}

type Row = Record<string, unknown>;

export class SqliteScheduleStore implements ScheduleStore {
  readonly #d: SqliteDatabase;

  constructor(database: SqliteDatabase) {
    this.#d = database;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return (this.#d.stmt('SELECT * FROM schedules ORDER BY namespace, name').all() as Row[]).map(toSchedule);
  }

  async createSchedule(s: ScheduleRecord): Promise<void> {
    try {
      this.#d.stmt(`INSERT INTO schedules (id, namespace, name, function_id, function_name, qualifier, expression, timezone,
        data_json, missed_fire_policy, enabled, description, created_at, updated_at, last_fire_at, next_fire_at,
        last_invocation_id, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(s.id, s.namespace, s.name, s.functionId, s.functionName, s.qualifier, s.expression, s.timezone,
          JSON.stringify(s.data), s.missedFirePolicy, s.enabled ? 1 : 0, s.description, s.createdAt, s.updatedAt,
          s.lastFireAt, s.nextFireAt, s.lastInvocationId, s.lastError);
    } catch (err) {
      if (/UNIQUE constraint failed: schedules\.namespace, schedules\.name/.test((err as Error).message)) throw conflict(s.name);
      throw err;
    }
  }

  async setEnabled(id: string, enabled: boolean, nextFireAt: number | null, updatedAt: number): Promise<void> {
    this.#d.stmt('UPDATE schedules SET enabled = ?, next_fire_at = ?, updated_at = ? WHERE id = ?').run(enabled ? 1 : 0, nextFireAt, updatedAt, id);
  }

  async recordFire(id: string, f: FireState): Promise<void> {
    this.#d.stmt('UPDATE schedules SET last_fire_at = ?, next_fire_at = ?, last_invocation_id = ?, last_error = ? WHERE id = ?')
      .run(f.lastFireAt, f.nextFireAt, f.lastInvocationId, f.lastError, id);
  }

  async deleteSchedule(id: string): Promise<void> {
    this.#d.stmt('DELETE FROM schedules WHERE id = ?').run(id);
  }
}

export function conflict(name: string): AviaryError {
  return new AviaryError('ScheduleConflict', `a schedule named ${name} already exists; pick another name, or delete it first with \`aviary schedule delete ${name}\``);
}

function toSchedule(r: Row): ScheduleRecord {
  const num = (v: unknown) => (v === null ? null : Number(v));
  const str = (v: unknown) => (v === null ? null : String(v));
  return {
    id: String(r.id),
    namespace: String(r.namespace),
    name: String(r.name),
    functionId: String(r.function_id),
    functionName: String(r.function_name),
    qualifier: str(r.qualifier),
    expression: String(r.expression),
    timezone: String(r.timezone),
    data: JSON.parse(String(r.data_json)) as Record<string, unknown>,
    missedFirePolicy: r.missed_fire_policy as MissedFirePolicy,
    enabled: Number(r.enabled) === 1,
    description: String(r.description),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    lastFireAt: num(r.last_fire_at),
    nextFireAt: num(r.next_fire_at),
    lastInvocationId: str(r.last_invocation_id),
    lastError: str(r.last_error),
  };
}
