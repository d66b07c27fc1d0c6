// The SQLite record writer (src/store/sqlite/record-writer.ts): batches written from its own
// thread and connection are readable on the main connection once write() resolves; if the
// thread cannot work, it says so once and the fallback writes on the calling thread.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvocationBlock, SqliteDatabase, SqliteRecordWriter, SqliteStore, StoreRecordWriter, type InvocationRecord, type LogRecord } from '../../src/store/index.ts';

let dir: string;
let database: SqliteDatabase;
let store: SqliteStore;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'aviary-records-'));
  database = new SqliteDatabase(path.join(dir, 'aviary.db'));
  store = new SqliteStore(database);
});
after(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

const invocation = (id: string, more: Partial<InvocationRecord> = {}): InvocationRecord => ({
  id, namespace: 'default', functionId: 'fn-1', version: 1, source: 'http', status: 'succeeded', cold: false,
  startedAt: Date.now(), durationMs: 0.2, initMs: null, errorType: null, errorMessage: null, ...more,
});
const block = (records: InvocationRecord[]): InvocationBlock => {
  const b = new InvocationBlock();
  for (const r of records) b.add(r);
  return b;
};
const line = (invocationId: string, i: number): LogRecord => ({
  invocationId, functionId: 'fn-1', version: 1, time: Date.now(), stream: 'stdout', message: `line ${i} ✓`,
});
const count = (table: string): number => Number((database.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n);

describe('SQLite record writer', () => {
  test('writes from its own thread; what it wrote is readable as soon as write() resolves', async () => {
    const warnings: string[] = [];
    const writer = new SqliteRecordWriter(path.join(dir, 'aviary.db'), { fallback: new StoreRecordWriter(store), warn: (m) => warnings.push(m) });
    const before = count('invocations');
    // more than one write slice, in two batches
    await writer.write(block(Array.from({ length: 300 }, (_, i) => invocation(`a-${i}`))), [line('a-0', 1), line('a-0', 2)]);
    await writer.write(block([invocation('b-0')]), Array.from({ length: 200 }, (_, i) => line('b-0', i)));
    assert.equal(count('invocations') - before, 301);
    // rows written in groups (32 per statement) and one by one keep every column
    for (const id of ['a-100', 'a-299', 'b-0']) {
      const row = database.db.prepare('SELECT * FROM invocations WHERE id = ?').get(id) as Record<string, unknown>;
      assert.deepEqual({ ...row, seq: 0, started_at: 0 }, {
        seq: 0, id, namespace: 'default', function_id: 'fn-1', version: 1, source: 'http', status: 'succeeded', cold: 0,
        started_at: 0, duration_ms: 0.2, init_ms: null, error_type: null, error_message: null,
      });
    }
    const logs = await store.queryLogs({ functionId: 'fn-1', invocationId: 'b-0', limit: 1000 });
    assert.equal(logs.length, 200);
    assert.equal(logs[199]!.message, 'line 199 ✓');
    await writer.close();
    assert.deepEqual(warnings, []);
  });

  test('every field crosses to the thread intact: UUID and other ids, errors, cold starts, several functions', async () => {
    const writer = new SqliteRecordWriter(path.join(dir, 'aviary.db'), { fallback: new StoreRecordWriter(store), warn: () => {} });
    const uuid = '0b6f1c9e-3f5a-4d2e-9c1b-7a8e6d5c4b3a';
    const records = [
      invocation(uuid, { startedAt: 1_700_000_000_123, durationMs: 12.345678 }),
      invocation('short-id', { functionId: 'fn-2', version: 7, source: 'api', cold: true, initMs: 41.5 }),
      invocation('ü'.repeat(36), { status: 'failed', errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 3.00 seconds' }),
      invocation('x'.repeat(35) + 'é', { namespace: 'team-a', status: 'failed', errorType: 'Error', errorMessage: null }),
    ];
    try {
      await writer.write(block(records), []);
      for (const r of records) {
        const row = database.db.prepare('SELECT * FROM invocations WHERE id = ?').get(r.id) as Record<string, unknown>;
        assert.deepEqual({ ...row, seq: 0 }, {
          seq: 0, id: r.id, namespace: r.namespace, function_id: r.functionId, version: r.version, source: r.source, status: r.status,
          cold: r.cold ? 1 : 0, started_at: r.startedAt, duration_ms: r.durationMs, init_ms: r.initMs, error_type: r.errorType, error_message: r.errorMessage,
        });
      }
    } finally {
      await writer.close();
    }
  });

  test('its thread is background work: named aviary-records, at nice 10 (Linux)', { skip: process.platform !== 'linux' }, async () => {
    const writer = new SqliteRecordWriter(path.join(dir, 'aviary.db'), { fallback: new StoreRecordWriter(store), warn: () => {} });
    await writer.write(block([invocation('nice-0')]), []); // answered: the thread is up
    const threads = readdirSync('/proc/self/task').map((tid) => ({
      comm: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(),
      stat: readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'),
    }));
    // fields after "(comm) ": state is field 3, nice field 19
    const niceOf = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    const records = threads.filter((t) => t.comm === 'aviary-records');
    assert.equal(records.length, 1, `threads: ${threads.map((t) => t.comm).join(', ')}`);
    assert.equal(niceOf(records[0]!.stat), 10);
    assert.equal(niceOf(threads.find((t) => t.comm !== 'aviary-records')!.stat), os.getPriority(), 'the other threads keep their priority');
    await writer.close();
  });

  test('a thread that cannot open the database: one warning, then the fallback writes', async () => {
    const warnings: string[] = [];
    const missing = path.join(dir, 'not-a-dir', '\0bad', 'aviary.db');
    const writer = new SqliteRecordWriter(missing, { fallback: new StoreRecordWriter(store), warn: (m) => warnings.push(m) });
    const before = count('invocations');
    // the first batch may be lost with the thread (the recorder reports that); later ones are not
    await writer.write(block([invocation('c-0')]), []).catch(() => {});
    assert.ok(await waitUntil(() => warnings.length > 0), 'no warning about the failed thread');
    await writer.write(block([invocation('c-1')]), []);
    assert.ok(count('invocations') - before >= 1);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /the thread writing invocation records stopped .*writing them on the main thread from now on/);
    await writer.close();
  });
});

async function waitUntil(check: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
