import type { SqliteDatabase } from '../store/index.ts';
import type {
  AsyncConfigRecord, AsyncQueue, AttemptRecord, ClaimOptions, DeadLetter, DestinationDelivery, DueFunction, Finish, IdempotencyInput,
  ListQuery, NewEvent, QueuedEvent, Retry,
} from './queue.ts';

type Row = Record<string, unknown>;

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The async queue on the embedded database (tables in migration 003). Every write commits
 * before its promise resolves; with WAL and synchronous=NORMAL a commit survives a crash of the
 * server process. Writes issued in the same turn of the event loop share one commit (group
 * commit), each in its own savepoint, so one failing write does not undo the others.
 */
export class SqliteQueue implements AsyncQueue {
  readonly #d: SqliteDatabase;
  #pending: PendingWrite[] = [];

  constructor(database: SqliteDatabase) {
    this.#d = database;
  }

  /** Runs `run` in the next group commit; resolves with its result once committed. */
  #write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.push({ run, resolve: resolve as (v: unknown) => void, reject }) === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.#d.transaction(() => {
        for (const w of batch) {
          if (batch.length > 1) this.#d.db.exec('SAVEPOINT async_write');
          try {
            outcomes.push({ ok: true, value: w.run() });
            if (batch.length > 1) this.#d.db.exec('RELEASE async_write');
          } catch (error) {
            if (batch.length === 1) throw error;
            this.#d.db.exec('ROLLBACK TO async_write');
            this.#d.db.exec('RELEASE async_write');
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    batch.forEach((w, i) => {
      const o = outcomes[i]!;
      if (o.ok) w.resolve(o.value);
      else w.reject(o.error);
    });
  }

  async enqueue(e: NewEvent, idem?: IdempotencyInput): Promise<{ id: string; duplicate: boolean }> {
    return this.#write(() => {
      if (idem) {
        const prior = this.#d.stmt('SELECT event_id, expires_at FROM async_idempotency_keys WHERE namespace = ? AND function_id = ? AND key = ?')
          .get(e.namespace, e.functionId, idem.key) as Row | undefined;
        if (prior && Number(prior.expires_at) > idem.now) return { id: String(prior.event_id), duplicate: true };
        this.#d.stmt('INSERT OR REPLACE INTO async_idempotency_keys (namespace, function_id, key, event_id, expires_at) VALUES (?, ?, ?, ?, ?)')
          .run(e.namespace, e.functionId, idem.key, e.id, idem.expiresAt);
      }
      this.#insert(e);
      return { id: e.id, duplicate: false };
    });
  }

  #insert(e: NewEvent): void {
    this.#d.stmt(`INSERT INTO async_events (id, namespace, function_id, function_name, qualifier, source, payload, depth, status,
      enqueued_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)`)
      .run(e.id, e.namespace, e.functionId, e.functionName, e.qualifier, e.source, e.payload, e.depth, e.enqueuedAt, e.enqueuedAt);
  }

  async due(): Promise<DueFunction[]> {
    // a skip scan over the queued index: one seek per function, however long its backlog
    const rows = this.#d.stmt(`WITH RECURSIVE f(id) AS (
        SELECT (SELECT function_id FROM async_events WHERE status = 'queued' ORDER BY function_id LIMIT 1)
        UNION ALL
        SELECT (SELECT function_id FROM async_events WHERE status = 'queued' AND function_id > f.id ORDER BY function_id LIMIT 1) FROM f WHERE f.id IS NOT NULL
      )
      SELECT id, (SELECT MIN(next_attempt_at) FROM async_events WHERE status = 'queued' AND function_id = f.id) AS due FROM f WHERE id IS NOT NULL`).all() as Row[];
    return rows.map((r) => ({ functionId: String(r.id), nextAttemptAt: Number(r.due) }));
  }

  async claim(o: ClaimOptions): Promise<QueuedEvent[]> {
    if (o.functions.length === 0) return [];
    return this.#write(() => {
      const claimed: QueuedEvent[] = [];
      const mark = this.#d.stmt(`UPDATE async_events SET status = 'running', attempts = attempts + 1, lease_until = ?,
        lease_token = lease_token + 1, first_attempt_at = COALESCE(first_attempt_at, ?) WHERE seq = ?`);
      for (const f of o.functions) {
        const limit = Math.floor(f.limit);
        if (!(limit > 0)) continue;
        // read then mark, in the one write transaction: measured 5x cheaper than UPDATE … RETURNING, and a
        // literal LIMIT keeps SQLite's top-N plan (a bound LIMIT costs 3x here)
        const rows = this.#d.stmt(`SELECT * FROM async_events WHERE status = 'queued' AND function_id = ? AND next_attempt_at <= ?
          ORDER BY next_attempt_at, seq LIMIT ${limit}`).all(f.functionId, o.now) as Row[];
        for (const r of rows) {
          mark.run(f.leaseUntil, o.now, r.seq as number);
          claimed.push(toEvent({
            ...r, status: 'running', attempts: Number(r.attempts) + 1, lease_until: f.leaseUntil, lease_token: Number(r.lease_token) + 1,
            first_attempt_at: r.first_attempt_at ?? o.now,
          }));
        }
      }
      return claimed;
    });
  }

  async finish(id: string, token: number, f: Finish): Promise<boolean> {
    return this.#write(() => {
      const attempt = f.attempt === null ? null : JSON.stringify(f.attempt);
      const changed = this.#d.stmt(`UPDATE async_events SET status = ?, attempts = attempts - ?, lease_until = NULL, next_attempt_at = NULL,
        finished_at = ?, result = ?, result_bytes = ?, error = ?,
        history = CASE WHEN ? IS NULL THEN history ELSE json_insert(history, '$[#]', json(?)) END,
        dead_letter = ?, destination = ?, destination_record = ?
        WHERE id = ? AND lease_token = ? AND status = 'running'`)
        .run(f.status, f.attempt === null ? 1 : 0, f.at, f.result, f.resultBytes, f.error, attempt, attempt, f.deadLetter,
          f.destination === null ? null : JSON.stringify(f.destination), f.destinationRecord, id, token).changes;
      if (Number(changed) !== 1) return false;
      if (f.deadLetter !== null) {
        this.#d.stmt(`INSERT OR REPLACE INTO async_dead_letters (event_id, namespace, function_id, function_name, qualifier, source, payload,
          depth, reason, attempts, error, enqueued_at, dead_lettered_at)
          SELECT id, namespace, function_id, function_name, qualifier, source, payload, depth, ?, attempts, error, enqueued_at, ?
          FROM async_events WHERE id = ?`).run(f.deadLetter, f.at, id);
      }
      if (f.followUp !== null) this.#insert(f.followUp);
      return true;
    });
  }

  async retry(id: string, token: number, r: Retry): Promise<boolean> {
    return this.#write(() => {
      const attempt = r.attempt === null ? null : JSON.stringify(r.attempt);
      const changed = this.#d.stmt(`UPDATE async_events SET status = 'queued', attempts = attempts - ?, lease_until = NULL, next_attempt_at = ?,
        error = COALESCE(?, error), history = CASE WHEN ? IS NULL THEN history ELSE json_insert(history, '$[#]', json(?)) END
        WHERE id = ? AND lease_token = ? AND status = 'running'`)
        .run(r.attempt === null ? 1 : 0, r.nextAttemptAt, r.error, attempt, attempt, id, token).changes;
      return Number(changed) === 1;
    });
  }

  async recordDelivery(id: string, delivery: DestinationDelivery): Promise<void> {
    await this.#write(() => this.#d.stmt('UPDATE async_events SET destination = ?, destination_record = NULL WHERE id = ?').run(JSON.stringify(delivery), id));
  }

  async pendingDeliveries(limit: number): Promise<{ event: QueuedEvent; record: string }[]> {
    const rows = this.#d.stmt('SELECT * FROM async_events WHERE destination_record IS NOT NULL ORDER BY seq LIMIT ?').all(limit) as Row[];
    return rows.map((r) => ({ event: toEvent(r), record: String(r.destination_record) }));
  }

  async recover(expiredBefore: number, now: number): Promise<number> {
    const changed = this.#d.stmt(`UPDATE async_events SET status = 'queued', lease_until = NULL, next_attempt_at = ?
      WHERE status = 'running' AND lease_until < ?`).run(now, expiredBefore).changes;
    return Number(changed);
  }

  async get(namespace: string, id: string): Promise<QueuedEvent | undefined> {
    const r = this.#d.stmt('SELECT * FROM async_events WHERE id = ? AND namespace = ?').get(id, namespace) as Row | undefined;
    return r && toEvent(r);
  }

  async list(q: ListQuery): Promise<QueuedEvent[]> {
    // newest `limit` of each status (one index range each), merged: one index fewer to keep up on every write
    const statuses = q.status === undefined ? ['queued', 'running', 'succeeded', 'failed'] : [q.status];
    const rows = statuses.flatMap((status) =>
      this.#d.stmt('SELECT * FROM async_events WHERE function_id = ? AND status = ? ORDER BY seq DESC LIMIT ?').all(q.functionId, status, q.limit) as Row[]);
    return rows.sort((a, b) => Number(b.seq) - Number(a.seq)).slice(0, q.limit).map(toEvent);
  }

  async deadLetters(functionId: string, limit: number): Promise<DeadLetter[]> {
    const rows = this.#d.stmt('SELECT * FROM async_dead_letters WHERE function_id = ? ORDER BY dead_lettered_at DESC, rowid DESC LIMIT ?')
      .all(functionId, limit) as Row[];
    return rows.map(toDeadLetter);
  }

  async deadLetter(functionId: string, eventId: string): Promise<DeadLetter | undefined> {
    const r = this.#d.stmt('SELECT * FROM async_dead_letters WHERE function_id = ? AND event_id = ?').get(functionId, eventId) as Row | undefined;
    return r && toDeadLetter(r);
  }

  async redrive(functionId: string, ids: readonly string[] | undefined, now: number): Promise<{ ids: string[]; missing: string[] }> {
    return this.#d.transaction(() => {
      const rows = (ids === undefined
        ? this.#d.stmt('SELECT * FROM async_dead_letters WHERE function_id = ? ORDER BY dead_lettered_at, rowid').all(functionId)
        : this.#d.stmt('SELECT * FROM async_dead_letters WHERE function_id = ? AND event_id IN (SELECT value FROM json_each(?)) ORDER BY dead_lettered_at, rowid')
          .all(functionId, JSON.stringify(ids))) as Row[];
      if (ids !== undefined) {
        const found = new Set(rows.map((r) => String(r.event_id)));
        const missing = [...new Set(ids)].filter((id) => !found.has(id));
        if (missing.length > 0) return { ids: [], missing };
      }
      for (const r of rows) {
        // the event keeps its id (and its run history); its retry budget and age start again
        this.#d.stmt(`INSERT INTO async_events (id, namespace, function_id, function_name, qualifier, source, payload, depth, status,
          enqueued_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)
          ON CONFLICT (id) DO UPDATE SET status = 'queued', attempts = 0, enqueued_at = excluded.enqueued_at,
          next_attempt_at = excluded.next_attempt_at, lease_until = NULL, first_attempt_at = NULL, finished_at = NULL, result = NULL,
          result_bytes = NULL, error = NULL, dead_letter = NULL, destination = NULL, destination_record = NULL`)
          .run(r.event_id as string, r.namespace as string, r.function_id as string, r.function_name as string, r.qualifier as string | null,
            r.source as string, r.payload as string, Number(r.depth), now, now);
        this.#d.stmt('DELETE FROM async_dead_letters WHERE event_id = ?').run(r.event_id as string);
      }
      return { ids: rows.map((r) => String(r.event_id)), missing: [] };
    });
  }

  async purge(functionId: string, ids: readonly string[] | undefined): Promise<number> {
    const changed = ids === undefined
      ? this.#d.stmt('DELETE FROM async_dead_letters WHERE function_id = ?').run(functionId).changes
      : this.#d.stmt('DELETE FROM async_dead_letters WHERE function_id = ? AND event_id IN (SELECT value FROM json_each(?))').run(functionId, JSON.stringify(ids)).changes;
    return Number(changed);
  }

  async getConfig(functionId: string): Promise<AsyncConfigRecord | undefined> {
    const r = this.#d.stmt('SELECT * FROM async_configs WHERE function_id = ?').get(functionId) as Row | undefined;
    return r && toConfig(r);
  }

  async listConfigs(): Promise<AsyncConfigRecord[]> {
    return (this.#d.stmt('SELECT * FROM async_configs').all() as Row[]).map(toConfig);
  }

  async putConfig(c: AsyncConfigRecord): Promise<void> {
    this.#d.stmt(`INSERT OR REPLACE INTO async_configs (function_id, namespace, retries, max_event_age_s, on_success, on_failure, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`).run(c.functionId, c.namespace, c.retries, c.maxEventAgeSeconds, c.onSuccess, c.onFailure, c.updatedAt);
  }

  async deleteConfig(functionId: string): Promise<boolean> {
    return Number(this.#d.stmt('DELETE FROM async_configs WHERE function_id = ?').run(functionId).changes) === 1;
  }

  async deleteFunction(functionId: string): Promise<void> {
    this.#d.transaction(() => {
      for (const table of ['async_events', 'async_dead_letters', 'async_idempotency_keys', 'async_configs']) {
        this.#d.stmt(`DELETE FROM ${table} WHERE function_id = ?`).run(functionId);
      }
    });
  }

  async prune(before: number, now: number): Promise<number> {
    return this.#d.transaction(() => {
      const a = this.#d.stmt('DELETE FROM async_events WHERE finished_at < ? AND destination_record IS NULL').run(before).changes;
      const b = this.#d.stmt('DELETE FROM async_idempotency_keys WHERE expires_at <= ?').run(now).changes;
      return Number(a) + Number(b);
    });
  }
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** The columns an event and its dead letter share (the event as accepted, without its id). */
function acceptedFields(r: Row): Omit<NewEvent, 'id'> {
  return {
    namespace: String(r.namespace),
    functionId: String(r.function_id),
    functionName: String(r.function_name),
    qualifier: str(r.qualifier),
    source: String(r.source),
    payload: String(r.payload),
    depth: Number(r.depth),
    enqueuedAt: Number(r.enqueued_at),
  };
}

function toEvent(r: Row): QueuedEvent {
  return {
    id: String(r.id),
    ...acceptedFields(r),
    status: r.status as QueuedEvent['status'],
    attempts: Number(r.attempts),
    nextAttemptAt: r.status === 'queued' || r.status === 'running' ? num(r.next_attempt_at) : null,
    leaseUntil: num(r.lease_until),
    leaseToken: Number(r.lease_token),
    firstAttemptAt: num(r.first_attempt_at),
    finishedAt: num(r.finished_at),
    result: str(r.result),
    resultBytes: num(r.result_bytes),
    error: str(r.error),
    history: r.history === '[]' ? [] : JSON.parse(String(r.history)) as AttemptRecord[],
    deadLetter: str(r.dead_letter) as QueuedEvent['deadLetter'],
    destination: r.destination === null ? null : JSON.parse(String(r.destination)) as DestinationDelivery,
  };
}

function toDeadLetter(r: Row): DeadLetter {
  return {
    eventId: String(r.event_id),
    ...acceptedFields(r),
    reason: r.reason as DeadLetter['reason'],
    attempts: Number(r.attempts),
    error: str(r.error),
    deadLetteredAt: Number(r.dead_lettered_at),
  };
}

function toConfig(r: Row): AsyncConfigRecord {
  return {
    functionId: String(r.function_id),
    namespace: String(r.namespace),
    retries: Number(r.retries),
    maxEventAgeSeconds: Number(r.max_event_age_s),
    onSuccess: str(r.on_success),
    onFailure: str(r.on_failure),
    updatedAt: Number(r.updated_at),
  };
}
