import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AsyncEventInput, AsyncInvoker, EnqueueResult } from '../../src/async/types.ts';
import { Registry } from '../../src/registry/index.ts';
import { SqliteDatabase, SqliteStore } from '../../src/store/index.ts';
import { MAX_TIMER_MS, Scheduler, Schedules, SqliteScheduleStore } from '../../src/triggers/schedule/index.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

/**
 * The scheduler against a fake clock, a real (in-memory) SQLite database and registry, and a
 * recording AsyncInvoker: what is enqueued, when, and what is saved.
 */

class RecordingInvoker implements AsyncInvoker {
  readonly calls: (AsyncEventInput & { at: number })[] = [];
  fail: Error | undefined;
  /** While set, enqueue does not resolve until `release()` (a crash before it returned). */
  hang = false;
  readonly #held: (() => void)[] = [];
  readonly #clock: FakeClock;

  constructor(clock: FakeClock) {
    this.#clock = clock;
  }

  async enqueue(input: AsyncEventInput): Promise<EnqueueResult> {
    if (this.fail) throw this.fail;
    this.calls.push({ ...input, at: this.#clock.now() });
    const result = { id: `inv-${this.calls.length}`, duplicate: false };
    if (this.hang) return new Promise((resolve) => this.#held.push(() => resolve(result)));
    return result;
  }

  release(): void {
    for (const r of this.#held.splice(0)) r();
  }

  /** The `time` of each enqueued event. */
  times(): string[] {
    return this.calls.map((c) => (JSON.parse(c.eventJson) as { time: string }).time);
  }
}

interface World {
  clock: FakeClock;
  db: SqliteDatabase;
  registry: Registry;
  scheduleStore: SqliteScheduleStore;
  schedules: Schedules;
  scheduler: Scheduler;
  invoker: RecordingInvoker;
  warnings: string[];
}

let db: SqliteDatabase;
let worlds: World[] = [];

beforeEach(async () => {
  db = new SqliteDatabase(':memory:');
  const store = new SqliteStore(db);
  const version = { runtime: 'node' as const, handler: 'index.handler', memory: 128, timeout: 3, env: {}, maxInstances: 1, minWarm: 0, description: '', packageDigest: 'sha256:x', buildId: 'b', codeSize: 1 };
  await store.createVersion({ id: 'fn_hello', namespace: 'default', name: 'hello' }, version, 0);
  await store.createVersion({ id: 'fn_other', namespace: 'default', name: 'other' }, version, 0);
  await store.createVersion({ id: 'fn_hello', namespace: 'default', name: 'hello' }, version, 0); // hello:2
});

afterEach(async () => {
  for (const w of worlds) {
    w.invoker.release();
    await w.scheduler.close();
  }
  worlds = [];
  db.close();
});

/** A server's worth of parts on the shared database: start one, drop it ("crash"), start another. */
async function boot(clock: FakeClock, options: { missedAfterMs?: number; invoker?: RecordingInvoker } = {}): Promise<World> {
  const registry = await Registry.load(new SqliteStore(db), clock);
  const scheduleStore = new SqliteScheduleStore(db);
  const warnings: string[] = [];
  const schedules = await Schedules.load({ store: scheduleStore, functions: registry, clock, warn: (m) => warnings.push(m) });
  const invoker = options.invoker ?? new RecordingInvoker(clock);
  let n = 0;
  const scheduler = new Scheduler({ schedules, invoker, clock, warn: (m) => warnings.push(m), newEventId: () => `ev-${++n}`, ...(options.missedAfterMs === undefined ? {} : { missedAfterMs: options.missedAfterMs }) });
  await scheduler.start();
  const w = { clock, db, registry, scheduleStore, schedules, scheduler, invoker, warnings };
  worlds.push(w);
  return w;
}

/** Moves the clock to `t` one timer at a time, letting each fire finish, as real time would. */
async function runUntil(w: World, t: string | number): Promise<void> {
  const target = new Date(t).getTime();
  for (;;) {
    const [delay] = w.clock.pending();
    if (delay === undefined || w.clock.now() + delay > target) break;
    w.clock.advance(delay);
    await w.scheduler.idle();
  }
  w.clock.set(target);
  await w.scheduler.idle();
}

async function stored(w: World, name: string) {
  const row = (await w.scheduleStore.listSchedules()).find((s) => s.name === name);
  assert.ok(row, `schedule ${name} is stored`);
  return row;
}

const iso = (t: number | null | undefined) => (t === null || t === undefined ? t : new Date(t).toISOString());

describe('firing', () => {
  test('fires at the scheduled wall-clock time with the scheduled event, and saves its state', async () => {
    const w = await boot(new FakeClock('2026-01-10T00:00:00Z'));
    await w.schedules.create('default', { name: 'nightly', function: 'hello', expression: '0 3 * * *', timezone: 'Europe/Paris', data: { report: 'daily' } });
    assert.equal(iso(w.scheduler.armedFor), '2026-01-10T02:00:00.000Z');

    await runUntil(w, '2026-01-10T01:59:59Z');
    assert.equal(w.invoker.calls.length, 0);
    await runUntil(w, '2026-01-10T02:00:00Z');
    assert.equal(w.invoker.calls.length, 1);
    const call = w.invoker.calls[0]!;
    assert.equal(call.namespace, 'default');
    assert.equal(call.functionRef, 'hello');
    assert.equal(call.source, 'schedule');
    assert.equal(iso(call.at), '2026-01-10T02:00:00.000Z');
    const id = w.schedules.get('default', 'nightly').record.id;
    assert.equal(call.idempotencyKey, `schedule:${id}:${Date.parse('2026-01-10T02:00:00Z')}`);
    assert.deepEqual(JSON.parse(call.eventJson), {
      version: '0', id: 'ev-1', 'detail-type': 'Scheduled Event', source: 'aviary.scheduler', account: '000000000000',
      time: '2026-01-10T02:00:00Z', region: 'local', resources: ['arn:aws:scheduler:local:000000000000:schedule/default/nightly'],
      detail: { report: 'daily' },
    });

    const row = await stored(w, 'nightly');
    assert.equal(iso(row.lastFireAt), '2026-01-10T02:00:00.000Z');
    assert.equal(iso(row.nextFireAt), '2026-01-11T02:00:00.000Z');
    assert.equal(row.lastInvocationId, 'inv-1');
    assert.equal(iso(w.scheduler.armedFor), '2026-01-11T02:00:00.000Z');

    await runUntil(w, '2026-01-13T12:00:00Z');
    assert.deepEqual(w.invoker.times(), ['2026-01-10T02:00:00Z', '2026-01-11T02:00:00Z', '2026-01-12T02:00:00Z', '2026-01-13T02:00:00Z']);
  });

  test('a qualifier is passed on; seconds and rate schedules fire on their own grids', async () => {
    const w = await boot(new FakeClock('2026-01-10T00:00:00Z'));
    await w.schedules.create('default', { name: 'fast', function: 'hello:2', expression: '*/20 * * * * *' });
    await w.schedules.create('default', { name: 'slow', function: 'other', expression: 'rate(1 minute)' });
    await runUntil(w, '2026-01-10T00:01:00Z');
    assert.deepEqual(w.invoker.calls.map((c) => `${c.functionRef}@${JSON.parse(c.eventJson).time}`), [
      'hello:2@2026-01-10T00:00:20Z', 'hello:2@2026-01-10T00:00:40Z', 'hello:2@2026-01-10T00:01:00Z', 'other@2026-01-10T00:01:00Z',
    ]);
  });

  test('one timer, for the earliest next fire of all schedules', async () => {
    const w = await boot(new FakeClock('2026-01-10T00:00:00Z'));
    await w.schedules.create('default', { name: 'a', function: 'hello', expression: '0 12 * * *' });
    await w.schedules.create('default', { name: 'b', function: 'hello', expression: '30 6 * * *' });
    await w.schedules.create('default', { name: 'c', function: 'other', expression: 'rate(2 hours)' });
    assert.deepEqual(w.clock.pending(), [2 * 3600_000]);
    await w.schedules.pause('default', 'c');
    assert.deepEqual(w.clock.pending(), [6.5 * 3600_000]);
  });

  test('a fire years away waits in steps of at most MAX_TIMER_MS (setTimeout overflows past 2^31 ms)', async () => {
    const w = await boot(new FakeClock('2026-01-10T00:00:00Z'));
    await w.schedules.create('default', { name: 'leap', function: 'hello', expression: '0 12 29 2 *' });
    assert.deepEqual(w.clock.pending(), [MAX_TIMER_MS]);
    assert.ok(MAX_TIMER_MS < 2 ** 31 - 1);
    await runUntil(w, '2028-02-29T11:59:59Z');
    assert.equal(w.invoker.calls.length, 0);
    await runUntil(w, '2028-02-29T12:00:00Z');
    assert.deepEqual(w.invoker.times(), ['2028-02-29T12:00:00Z']);
  });

  test('DST: a 02:30 Europe/Paris job runs at 03:00 on the spring-forward day and once on the fall-back day', async () => {
    const w = await boot(new FakeClock('2025-03-29T00:00:00Z'));
    await w.schedules.create('default', { name: 'dst', function: 'hello', expression: '30 2 * * *', timezone: 'Europe/Paris' });
    await runUntil(w, '2025-04-01T00:00:00Z');
    assert.deepEqual(w.invoker.times(), ['2025-03-29T01:30:00Z', '2025-03-30T01:00:00Z', '2025-03-31T00:30:00Z']);
    w.invoker.calls.length = 0;
    await runUntil(w, '2025-10-25T00:00:00Z');
    w.invoker.calls.length = 0;
    await runUntil(w, '2025-10-28T00:00:00Z');
    assert.deepEqual(w.invoker.times(), ['2025-10-25T00:30:00Z', '2025-10-26T00:30:00Z', '2025-10-27T01:30:00Z']);
  });

  test('DST: an America/New_York job every 30 minutes skips the gap and runs both passes of the repeated hour', async () => {
    const w = await boot(new FakeClock('2025-11-02T04:50:00Z'));
    await w.schedules.create('default', { name: 'half', function: 'hello', expression: '*/30 * * * *', timezone: 'America/New_York' });
    await runUntil(w, '2025-11-02T07:10:00Z');
    // 01:00, 01:30 EDT, then 01:00, 01:30 EST, then 02:00 EST
    assert.deepEqual(w.invoker.times(), ['2025-11-02T05:00:00Z', '2025-11-02T05:30:00Z', '2025-11-02T06:00:00Z', '2025-11-02T06:30:00Z', '2025-11-02T07:00:00Z']);
  });

  test('an enqueue that fails is recorded on the schedule, which moves on to its next time', async () => {
    const w = await boot(new FakeClock('2026-01-10T00:00:00Z'));
    await w.schedules.create('default', { name: 'm', function: 'hello', expression: '* * * * *' });
    w.invoker.fail = new Error('queue unavailable');
    await runUntil(w, '2026-01-10T00:01:00Z');
    let row = await stored(w, 'm');
    assert.equal(row.lastError, '2026-01-10T00:01:00.000Z: queue unavailable');
    assert.equal(iso(row.nextFireAt), '2026-01-10T00:02:00.000Z');
    assert.match(w.warnings.join('\n'), /could not enqueue the fire at 2026-01-10T00:01:00.000Z: queue unavailable/);
    w.invoker.fail = undefined;
    await runUntil(w, '2026-01-10T00:02:00Z');
    row = await stored(w, 'm');
    assert.equal(row.lastError, null);
    assert.equal(row.lastInvocationId, 'inv-1');
  });
});

describe('pause, resume, delete', () => {
  test('pause stops fires at once; resume fires from the next time after now, not making up the paused ones', async () => {
    const w = await boot(new FakeClock('2026-01-10T00:00:00Z'));
    await w.schedules.create('default', { name: 'm', function: 'hello', expression: '*/10 * * * *' });
    await runUntil(w, '2026-01-10T00:10:00Z');
    await w.schedules.pause('default', 'm');
    assert.deepEqual(w.clock.pending(), []);
    assert.equal((await stored(w, 'm')).nextFireAt, null);
    await runUntil(w, '2026-01-10T00:45:00Z');
    assert.deepEqual(w.invoker.times(), ['2026-01-10T00:10:00Z']);
    await w.schedules.resume('default', 'm');
    assert.equal(iso((await stored(w, 'm')).nextFireAt), '2026-01-10T00:50:00.000Z');
    await runUntil(w, '2026-01-10T01:00:00Z');
    assert.deepEqual(w.invoker.times(), ['2026-01-10T00:10:00Z', '2026-01-10T00:50:00Z', '2026-01-10T01:00:00Z']);
  });

  test('a schedule created paused does not fire', async () => {
    const w = await boot(new FakeClock('2026-01-10T00:00:00Z'));
    const s = await w.schedules.create('default', { name: 'm', function: 'hello', expression: '* * * * *', enabled: false });
    assert.equal(s.nextFireAt, null);
    await runUntil(w, '2026-01-10T00:10:00Z');
    assert.equal(w.invoker.calls.length, 0);
  });

  test('delete stops fires at once and removes the row', async () => {
    const w = await boot(new FakeClock('2026-01-10T00:00:00Z'));
    await w.schedules.create('default', { name: 'm', function: 'hello', expression: '* * * * *' });
    await w.schedules.delete('default', 'm');
    assert.deepEqual(w.clock.pending(), []);
    assert.deepEqual(await w.scheduleStore.listSchedules(), []);
    await runUntil(w, '2026-01-10T00:10:00Z');
    assert.equal(w.invoker.calls.length, 0);
  });

  test('pausing while a fire is being enqueued keeps it paused', async () => {
    const w = await boot(new FakeClock('2026-01-10T00:00:00Z'));
    await w.schedules.create('default', { name: 'm', function: 'hello', expression: '* * * * *' });
    w.invoker.hang = true;
    w.clock.advance(60_000);
    await w.schedules.pause('default', 'm');
    assert.equal(w.invoker.calls.length, 1);
    w.invoker.release();
    await w.scheduler.idle();
    const row = await stored(w, 'm');
    assert.equal(row.enabled, false);
    assert.equal(row.nextFireAt, null);
    assert.equal(iso(row.lastFireAt), '2026-01-10T00:01:00.000Z');
    assert.deepEqual(w.clock.pending(), []);
  });

  test('deleting the function deletes its schedules (database cascade, and in memory)', async () => {
    const w = await boot(new FakeClock('2026-01-10T00:00:00Z'));
    await w.schedules.create('default', { name: 'a', function: 'hello', expression: '* * * * *' });
    await w.schedules.create('default', { name: 'b', function: 'other', expression: '* * * * *' });
    await w.registry.deleteFunction('default', 'hello');
    assert.deepEqual((await w.scheduleStore.listSchedules()).map((s) => s.name), ['b']);
    assert.deepEqual(w.schedules.list('default').map((e) => e.record.name), ['b']);
    await runUntil(w, '2026-01-10T00:01:00Z');
    assert.deepEqual(w.invoker.calls.map((c) => c.functionRef), ['other']);
  });
});

describe('fires missed while the server was down', () => {
  async function downFor(policy: 'skip' | 'run-once', restartAt: string) {
    const clock = new FakeClock('2026-01-10T00:00:00Z');
    const first = await boot(clock);
    await first.schedules.create('default', { name: 'n', function: 'hello', expression: '0 3 * * *', timezone: 'Europe/Paris', missedFirePolicy: policy });
    await runUntil(first, '2026-01-10T02:00:00Z');
    assert.deepEqual(first.invoker.times(), ['2026-01-10T02:00:00Z']);
    await first.scheduler.close(); // the server stops…
    clock.set(restartAt); // …and starts again later
    return boot(clock);
  }

  test('skip (the default): nothing runs for the missed fires; the next is the next time after now', async () => {
    const w = await downFor('skip', '2026-01-13T12:00:00Z');
    assert.equal(w.invoker.calls.length, 0);
    assert.equal(iso((await stored(w, 'n')).nextFireAt), '2026-01-14T02:00:00.000Z');
    assert.match(w.warnings.join('\n'), /schedule default\/n missed its fire at 2026-01-11T02:00:00.000Z; skipped \(missedFirePolicy skip\)/);
    await runUntil(w, '2026-01-14T02:00:00Z');
    assert.deepEqual(w.invoker.times(), ['2026-01-14T02:00:00Z']);
  });

  test('run-once: one fire on start, for the latest missed time, then on schedule', async () => {
    const w = await downFor('run-once', '2026-01-13T12:00:00Z');
    assert.deepEqual(w.invoker.times(), ['2026-01-13T02:00:00Z']);
    assert.equal(iso(w.invoker.calls[0]!.at), '2026-01-13T12:00:00.000Z');
    const row = await stored(w, 'n');
    assert.equal(iso(row.lastFireAt), '2026-01-13T02:00:00.000Z');
    assert.equal(iso(row.nextFireAt), '2026-01-14T02:00:00.000Z');
    await runUntil(w, '2026-01-14T02:00:00Z');
    assert.deepEqual(w.invoker.times(), ['2026-01-13T02:00:00Z', '2026-01-14T02:00:00Z']);
  });

  test('a restart within the grace period (60 s) is not a miss: the fire runs, late', async () => {
    const w = await downFor('skip', '2026-01-11T02:00:30Z');
    assert.deepEqual(w.invoker.times(), ['2026-01-11T02:00:00Z']);
  });

  test('a crash after enqueueing but before saving re-enqueues the same fire, with the same idempotency key', async () => {
    const clock = new FakeClock('2026-01-10T00:00:00Z');
    const invoker = new RecordingInvoker(clock);
    const first = await boot(clock, { invoker });
    await first.schedules.create('default', { name: 'n', function: 'hello', expression: '0 3 * * *' });
    invoker.hang = true;
    clock.set('2026-01-10T03:00:00Z'); // enqueued, never saved: the process dies here
    assert.equal(invoker.calls.length, 1);
    invoker.hang = false;
    clock.set('2026-01-10T03:00:10Z');
    await boot(clock, { invoker });
    assert.equal(invoker.calls.length, 2);
    assert.equal(invoker.calls[1]!.idempotencyKey, invoker.calls[0]!.idempotencyKey);
  });
});
