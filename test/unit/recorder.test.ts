// The recorder (src/observe/recorder.ts) when its writer falls behind: at most
// MAX_PENDING_BATCHES batches wait; newer ones are dropped, with a warning that counts them (at
// most one a minute); once the writer catches up, batches are written again. A real SQLite
// store underneath; the writer is held back by a gate to simulate a starved writer thread.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAX_PENDING_BATCHES, Recorder } from '../../src/observe/index.ts';
import { SqliteDatabase, SqliteStore, StoreRecordWriter, type InvocationBlock, type InvocationRecord, type LogRecord, type RecordWriter } from '../../src/store/index.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

let dir: string;
let database: SqliteDatabase;
let store: SqliteStore;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'aviary-recorder-'));
  database = new SqliteDatabase(path.join(dir, 'aviary.db'));
  store = new SqliteStore(database);
});
after(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

const invocation = (id: string): InvocationRecord => ({
  id, namespace: 'default', functionId: 'fn-1', version: 1, source: 'http', status: 'succeeded', cold: false,
  startedAt: Date.now(), durationMs: 0.2, initMs: null, errorType: null, errorMessage: null,
});
const line = (invocationId: string): LogRecord => ({ invocationId, functionId: 'fn-1', version: 1, time: Date.now(), stream: 'stdout', message: 'hi' });
const count = (): number => Number((database.db.prepare('SELECT COUNT(*) AS n FROM invocations').get() as { n: number }).n);

/** The real writer, held until `open()`. */
class GatedWriter implements RecordWriter {
  readonly #inner: RecordWriter;
  #open!: () => void;
  readonly #gate = new Promise<void>((resolve) => { this.#open = resolve; });
  constructor(inner: RecordWriter) { this.#inner = inner; }
  open(): void { this.#open(); }
  async write(invocations: InvocationBlock, logs: LogRecord[]): Promise<void> {
    await this.#gate;
    await this.#inner.write(invocations, logs);
  }
  async close(): Promise<void> {}
}

test('a writer that falls behind: batches past the limit are dropped and counted in one warning a minute; writing resumes once it catches up', async () => {
  const clock = new FakeClock('2026-11-22T12:00:00Z');
  const warnings: string[] = [];
  const writer = new GatedWriter(new StoreRecordWriter(store));
  const recorder = new Recorder({ store, writer, retentionMs: 86_400_000, warn: (m) => warnings.push(m), clock });
  const before = count();

  for (let i = 0; i < MAX_PENDING_BATCHES + 10; i++) {
    recorder.invocation(invocation(`r-${i}`), [line(`r-${i}`)]);
    void recorder.flush();
  }
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /^dropped 1 invocation records and 1 log lines: writing them falls behind \(50 batches waiting\); the machine is short of CPU or the store is slow$/);

  // a minute later the next drop reports everything dropped since the warning
  clock.advance(60_000);
  recorder.invocation(invocation('late'), []);
  void recorder.flush();
  assert.equal(warnings.length, 2);
  assert.match(warnings[1]!, /^dropped 10 invocation records and 9 log lines: /);

  writer.open();
  await recorder.flush();
  assert.equal(count() - before, MAX_PENDING_BATCHES, 'the batches that waited are written');
  const kept = await store.queryLogs({ functionId: 'fn-1', invocationId: `r-${MAX_PENDING_BATCHES - 1}`, limit: 10 });
  assert.equal(kept.length, 1);
  assert.deepEqual(await store.queryLogs({ functionId: 'fn-1', invocationId: `r-${MAX_PENDING_BATCHES}`, limit: 10 }), [], 'the first dropped batch is not');

  recorder.invocation(invocation('after'), []);
  await recorder.flush();
  assert.equal(count() - before, MAX_PENDING_BATCHES + 1, 'caught up: batches are written again');
  assert.equal(warnings.length, 2);
  await recorder.close();
});
