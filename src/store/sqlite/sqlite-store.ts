import type { StatementSync } from 'node:sqlite';
import type { SqliteDatabase } from './database.ts';
import type {
  FunctionRecord, InvocationRecord, KeyRecord, LogQuery, LogRecord, RouteRecord, Store, VersionRecord,
} from '../types.ts';

type Row = Record<string, unknown>;

/** Invocation rows per multi-row INSERT. */
const ROWS_PER_INSERT = 32;

/** The invocations table's columns, in the order `invocationRows` lays out each record. */
const INVOCATION_COLUMNS = ['id', 'namespace', 'function_id', 'version', 'source', 'status', 'cold', 'started_at',
  'duration_ms', 'init_ms', 'error_type', 'error_message'] as const;

/** Values per record in `invocationRows`. */
const INVOCATION_WIDTH = INVOCATION_COLUMNS.length;

type InvocationRowValue = string | number | null;

/** Invocation records as one flat array of column values, record after record. */
function invocationRows(records: InvocationRecord[]): InvocationRowValue[] {
  const out: InvocationRowValue[] = [];
  for (const r of records) {
    out.push(r.id, r.namespace, r.functionId, r.version, r.source, r.status, r.cold ? 1 : 0, r.startedAt, r.durationMs,
      r.initMs, r.errorType, r.errorMessage);
  }
  return out;
}

/**
 * The registry's store on the embedded database. Calls are synchronous underneath; the async
 * interface is for parity with networked stores.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly #d: SqliteDatabase;

  constructor(database: SqliteDatabase) {
    this.#d = database;
  }

  #stmt(sql: string): StatementSync {
    return this.#d.stmt(sql);
  }

  #transaction<T>(fn: () => T): T {
    return this.#d.transaction(fn);
  }

  async close(): Promise<void> {
    this.#d.close();
  }

  async countKeys(): Promise<number> {
    return Number((this.#stmt('SELECT COUNT(*) AS n FROM api_keys').get() as Row).n);
  }

  async createKey(key: KeyRecord): Promise<void> {
    this.#stmt('INSERT INTO api_keys (id, namespace, role, token_hash, description, created_at, sigv4_secret) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(key.id, key.namespace, key.role, key.tokenHash, key.description, key.createdAt, key.sigv4Secret ?? null);
  }

  async findKeyByTokenHash(tokenHash: string): Promise<KeyRecord | undefined> {
    const r = this.#stmt('SELECT * FROM api_keys WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return r && toKey(r);
  }

  async findKeyById(id: string): Promise<KeyRecord | undefined> {
    const r = this.#stmt('SELECT * FROM api_keys WHERE id = ?').get(id) as Row | undefined;
    return r && toKey(r);
  }

  async listFunctions(): Promise<FunctionRecord[]> {
    return (this.#stmt('SELECT * FROM functions ORDER BY namespace, name').all() as Row[]).map(toFunction);
  }

  async listVersions(): Promise<VersionRecord[]> {
    return (this.#stmt('SELECT * FROM versions ORDER BY function_id, version').all() as Row[]).map(toVersion);
  }

  async createVersion(
    fn: { id: string; namespace: string; name: string },
    v: Omit<VersionRecord, 'functionId' | 'version' | 'createdAt'>,
    now: number,
  ): Promise<{ function: FunctionRecord; version: VersionRecord }> {
    return this.#transaction(() => {
      const existing = this.#stmt('SELECT * FROM functions WHERE namespace = ? AND name = ?').get(fn.namespace, fn.name) as Row | undefined;
      let record: FunctionRecord;
      if (existing) {
        const prev = toFunction(existing);
        record = { ...prev, latestVersion: prev.latestVersion + 1, updatedAt: now };
        this.#stmt('UPDATE functions SET latest_version = ?, updated_at = ? WHERE id = ?').run(record.latestVersion, now, record.id);
      } else {
        record = { id: fn.id, namespace: fn.namespace, name: fn.name, latestVersion: 1, createdAt: now, updatedAt: now };
        this.#stmt('INSERT INTO functions (id, namespace, name, latest_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(record.id, record.namespace, record.name, 1, now, now);
      }
      const version: VersionRecord = { ...v, functionId: record.id, version: record.latestVersion, createdAt: now };
      this.#stmt(`INSERT INTO versions (function_id, version, runtime, handler, memory_mb, timeout_s, env_json, max_instances,
        min_warm, description, package_digest, build_id, code_size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(version.functionId, version.version, version.runtime, version.handler, version.memory, version.timeout,
          JSON.stringify(version.env), version.maxInstances, version.minWarm, version.description, version.packageDigest,
          version.buildId, version.codeSize, now);
      return { function: record, version };
    });
  }

  async deleteFunction(functionId: string): Promise<void> {
    this.#transaction(() => {
      this.#stmt('DELETE FROM routes WHERE function_id = ?').run(functionId);
      this.#stmt('DELETE FROM versions WHERE function_id = ?').run(functionId);
      this.#stmt('DELETE FROM functions WHERE id = ?').run(functionId);
    });
  }

  async listRoutes(): Promise<RouteRecord[]> {
    return (this.#stmt('SELECT * FROM routes ORDER BY path, method').all() as Row[]).map((r) => ({
      id: String(r.id), namespace: String(r.namespace), method: String(r.method), path: String(r.path),
      functionId: String(r.function_id), qualifier: r.qualifier === null ? null : String(r.qualifier), createdAt: Number(r.created_at),
    }));
  }

  async createRoute(route: RouteRecord): Promise<void> {
    this.#stmt('INSERT INTO routes (id, namespace, method, path, function_id, qualifier, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(route.id, route.namespace, route.method, route.path, route.functionId, route.qualifier, route.createdAt);
  }

  async deleteRoute(id: string): Promise<void> {
    this.#stmt('DELETE FROM routes WHERE id = ?').run(id);
  }

  async insertInvocations(records: InvocationRecord[]): Promise<void> {
    const rows = invocationRows(records);
    const count = rows.length / INVOCATION_WIDTH;
    if (count === 0) return;
    // rows go in groups of ROWS_PER_INSERT per statement: a quarter less work per row than one
    // statement each (the rest one by one)
    const columns = INVOCATION_COLUMNS.join(', ');
    const row = `(${INVOCATION_COLUMNS.map(() => '?').join(', ')})`;
    const many = this.#stmt(`INSERT INTO invocations (${columns}) VALUES ${Array(ROWS_PER_INSERT).fill(row).join(', ')}`);
    const one = this.#stmt(`INSERT INTO invocations (${columns}) VALUES ${row}`);
    const width = INVOCATION_WIDTH;
    this.#transaction(() => {
      let i = 0;
      for (; i + ROWS_PER_INSERT <= count; i += ROWS_PER_INSERT) many.run(...rows.slice(i * width, (i + ROWS_PER_INSERT) * width));
      for (; i < count; i++) one.run(...rows.slice(i * width, (i + 1) * width));
    });
  }

  async insertLogs(records: LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const insert = this.#stmt('INSERT INTO logs (invocation_id, function_id, version, time, stream, message) VALUES (?, ?, ?, ?, ?, ?)');
    this.#transaction(() => {
      for (const r of records) insert.run(r.invocationId, r.functionId, r.version, r.time, r.stream, r.message);
    });
  }

  async queryLogs(q: LogQuery): Promise<LogRecord[]> {
    const where = ['function_id = ?'];
    const args: (string | number)[] = [q.functionId];
    if (q.invocationId !== undefined) { where.push('invocation_id = ?'); args.push(q.invocationId); }
    if (q.since !== undefined) { where.push('time >= ?'); args.push(q.since); }
    // newest `limit` lines, returned oldest first
    const rows = this.#stmt(`SELECT * FROM (SELECT * FROM logs WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?) ORDER BY seq ASC`)
      .all(...args, q.limit) as Row[];
    return rows.map((r) => ({
      invocationId: String(r.invocation_id), functionId: String(r.function_id), version: Number(r.version),
      time: Number(r.time), stream: r.stream as LogRecord['stream'], message: String(r.message),
    }));
  }

  async prune(before: number): Promise<number> {
    return this.#transaction(() => {
      const a = this.#stmt('DELETE FROM logs WHERE time < ?').run(before).changes;
      // rows arrive in time order, so everything below the first recent row's seq is old: a rowid
      // range delete instead of an index on started_at that every insert would pay for
      const first = this.#stmt('SELECT seq FROM invocations WHERE started_at >= ? ORDER BY seq LIMIT 1').get(before) as Row | undefined;
      const b = first
        ? this.#stmt('DELETE FROM invocations WHERE seq < ?').run(Number(first.seq)).changes
        : this.#stmt('DELETE FROM invocations').run().changes;
      return Number(a) + Number(b);
    });
  }
}

function toKey(r: Row): KeyRecord {
  return {
    id: String(r.id), namespace: String(r.namespace), role: r.role as KeyRecord['role'],
    tokenHash: String(r.token_hash), description: String(r.description), createdAt: Number(r.created_at),
    sigv4Secret: r.sigv4_secret == null ? null : String(r.sigv4_secret),
  };
}

function toFunction(r: Row): FunctionRecord {
  return {
    id: String(r.id), namespace: String(r.namespace), name: String(r.name), latestVersion: Number(r.latest_version),
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  };
}

function toVersion(r: Row): VersionRecord {
  return {
    functionId: String(r.function_id), version: Number(r.version), runtime: r.runtime as VersionRecord['runtime'],
    handler: r.handler === null ? null : String(r.handler), memory: Number(r.memory_mb), timeout: Number(r.timeout_s),
    env: JSON.parse(String(r.env_json)) as Record<string, string>, maxInstances: Number(r.max_instances),
    minWarm: Number(r.min_warm), description: String(r.description), packageDigest: String(r.package_digest),
    buildId: String(r.build_id), codeSize: Number(r.code_size), createdAt: Number(r.created_at),
  };
}
