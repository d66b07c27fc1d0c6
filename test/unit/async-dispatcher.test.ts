// The async dispatcher with an injected clock, a real SqliteQueue (in memory) and a scripted
// invoker: retries with backoff, dead letters, maximum age, throttling, destinations, per-function
// concurrency and shutdown, without sleeping. The real server is exercised by integration/async.test.ts.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncConfigs, AsyncDispatcher, DEFAULT_ASYNC_SETTINGS, SqliteQueue, type AsyncSettings, type NewEvent } from '../../src/async/index.ts';
import type { InvokeInput, InvokeResult } from '../../src/invoke/index.ts';
import type { FunctionEntry } from '../../src/registry/index.ts';
import { AviaryError } from '../../src/shared/errors.ts';
import { SqliteDatabase, type FunctionRecord, type VersionRecord } from '../../src/store/index.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const START = Date.UTC(2026, 0, 1);

/** Lets the dispatcher's awaits (queue writes commit on the next turn, the scripted invoker) run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

class Functions {
  readonly entries = new Map<string, FunctionEntry>();

  add(name: string, maxInstances = 10): FunctionRecord {
    const record: FunctionRecord = { id: `f_${name}`, namespace: 'default', name, latestVersion: 1, createdAt: 0, updatedAt: 0 };
    const version = { functionId: record.id, version: 1, maxInstances, timeout: 3 } as VersionRecord;
    this.entries.set(record.id, { record, versions: new Map([[1, version]]) });
    return record;
  }

  functionById(id: string): FunctionEntry | undefined {
    return this.entries.get(id);
  }

  resolve(_ns: string, ref: string): { fn: FunctionRecord; version: VersionRecord } {
    const e = [...this.entries.values()].find((x) => x.record.name === ref.split(':')[0]);
    if (!e) throw new AviaryError('FunctionNotFound', `function ${ref} does not exist`);
    return { fn: e.record, version: e.versions.get(1)! };
  }
}

type Script = (input: InvokeInput, call: number) => Promise<Partial<InvokeResult>> | Partial<InvokeResult>;

describe('AsyncDispatcher', () => {
  let db: SqliteDatabase;
  let queue: SqliteQueue;
  let clock: FakeClock;
  let functions: Functions;
  let configs: AsyncConfigs;
  let calls: InvokeInput[];
  let script: Script;
  let warnings: string[];
  let dispatcher: AsyncDispatcher;
  let n = 0;

  const settings: AsyncSettings = { ...DEFAULT_ASYNC_SETTINGS, concurrency: 16, retryBaseMs: 1000, retryCapMs: 60_000, throttleDelayMs: 500, pollMs: 1000, stopWaitMs: 1000 };

  const make = (over: Partial<AsyncSettings> = {}, random = () => 0.5): AsyncDispatcher => new AsyncDispatcher({
    queue, configs, clock, random, warn: (m) => warnings.push(m), retentionMs: 86_400_000, exclusive: true,
    settings: { ...settings, ...over },
    registry: functions,
    invoker: {
      invoke: async (input) => {
        calls.push(input);
        const r = await script(input, calls.length);
        const entry = functions.resolve('default', input.ref);
        return { requestId: `req-${calls.length}`, fn: entry.fn, version: entry.version, ok: true, result: null, error: undefined, cold: false, initMs: null, durationMs: 2, logs: [], ...r };
      },
    },
  });

  const enqueue = async (fn: FunctionRecord, payload = '{}', over: Partial<NewEvent> = {}): Promise<string> => {
    const id = `ev-${++n}`;
    await queue.enqueue({ id, namespace: 'default', functionId: fn.id, functionName: fn.name, qualifier: null, source: 'api', payload, depth: 0, enqueuedAt: clock.now(), ...over });
    dispatcher.wake(fn.id);
    return id;
  };
  const get = async (id: string) => (await queue.get('default', id))!;
  const fail = (message = 'boom'): Partial<InvokeResult> => ({ ok: false, error: { errorType: 'Error', errorMessage: message } });

  beforeEach(async () => {
    db = new SqliteDatabase(':memory:');
    queue = new SqliteQueue(db);
    clock = new FakeClock(START);
    functions = new Functions();
    configs = new AsyncConfigs(queue);
    calls = [];
    warnings = [];
    script = () => ({ ok: true, result: { done: true } });
    dispatcher = make();
  });
  afterEach(async () => {
    const stopped = dispatcher.stop();
    clock.advance(settings.stopWaitMs);
    await stopped;
    db.close();
  });

  /** Moves time by `ms`, letting the work each timer starts finish, and the timers that work sets for "now". */
  const tick = async (ms = 0): Promise<void> => {
    await settle();
    clock.advance(ms);
    for (let i = 0; i < 4; i++) {
      await settle();
      clock.advance(0);
    }
    await settle();
  };

  test('runs a queued event through the invoker, source async, and keeps the result', async () => {
    const hello = functions.add('hello');
    await dispatcher.start();
    const id = await enqueue(hello, '{"name":"ada"}');
    await tick();
    assert.deepEqual(calls.map((c) => [c.ref, c.source, c.eventJson]), [['hello', 'async', '{"name":"ada"}']]);
    const e = await get(id);
    assert.equal(e.status, 'succeeded');
    assert.equal(e.result, '{"done":true}');
    assert.deepEqual(e.history.map((h) => [h.requestId, h.status]), [['req-1', 'succeeded']]);
  });

  test('a failing event is retried after exponential backoff with jitter, then succeeds', async () => {
    const hello = functions.add('hello');
    script = (_i, call) => (call <= 2 ? fail(`attempt ${call}`) : { ok: true, result: 'third time' });
    await dispatcher.start();
    const id = await enqueue(hello);
    await tick();
    let e = await get(id);
    // random 0.5: the first retry waits 0.5 · 1000 ms, the second 0.5 · 2000 ms
    assert.deepEqual([e.status, e.attempts, e.nextAttemptAt! - clock.now()], ['queued', 1, 500]);
    assert.match(e.error ?? '', /attempt 1/);
    await tick(499);
    assert.equal(calls.length, 1, 'not before the backoff is over');
    await tick(1);
    e = await get(id);
    assert.deepEqual([calls.length, e.attempts, e.nextAttemptAt! - clock.now()], [2, 2, 1000]);
    await tick(1000);
    e = await get(id);
    assert.deepEqual([e.status, e.attempts, e.result], ['succeeded', 3, '"third time"']);
    assert.deepEqual(e.history.map((h) => h.status), ['failed', 'failed', 'succeeded']);
    assert.equal(e.error, null);
  });

  test('retries exhausted: dead letter, and the on-failure function gets the Lambda record in the same commit', async () => {
    const hello = functions.add('hello');
    const dest = functions.add('dest');
    await configs.put('default', hello.id, { retries: 1, maxEventAgeSeconds: 3600, onSuccess: null, onFailure: { type: 'function', name: 'dest' } }, 0);
    script = (input) => (input.ref === 'hello' ? fail('always') : { ok: true });
    await dispatcher.start();
    const id = await enqueue(hello, '{"order":1}');
    await tick();
    await tick(500);
    const e = await get(id);
    assert.deepEqual([e.status, e.attempts, e.deadLetter], ['failed', 2, 'RetriesExhausted']);
    const letters = await queue.deadLetters(hello.id, 10);
    assert.deepEqual(letters.map((d) => [d.eventId, d.reason, d.attempts]), [[id, 'RetriesExhausted', 2]]);
    assert.equal(e.destination?.status, 'delivered');
    await tick();
    const destCall = calls.find((c) => c.ref === 'dest');
    assert.ok(destCall, 'the destination function ran');
    const record = JSON.parse(destCall.eventJson);
    assert.equal(record.requestContext.requestId, id);
    assert.equal(record.requestContext.condition, 'RetriesExhausted');
    assert.equal(record.requestContext.approximateInvokeCount, 2);
    assert.deepEqual(record.requestPayload, { order: 1 });
    assert.deepEqual(record.responseContext, { statusCode: 200, executedVersion: '1', functionError: 'Unhandled' });
    assert.equal(record.responsePayload.errorMessage, 'always');
    const follow = await get(e.destination!.eventId!);
    assert.deepEqual([follow.source, follow.depth, follow.status], ['destination', 1, 'succeeded']);
  });

  test('an event older than its maximum age is dead-lettered without running', async () => {
    const hello = functions.add('hello');
    await configs.put('default', hello.id, { retries: 2, maxEventAgeSeconds: 60, onSuccess: null, onFailure: null }, 0);
    const id = await enqueue(hello);
    clock.advance(61_000);
    await dispatcher.start();
    await tick();
    assert.equal(calls.length, 0);
    const e = await get(id);
    assert.deepEqual([e.status, e.attempts, e.deadLetter], ['failed', 0, 'EventAgeExceeded']);
  });

  test('a retry that would land past the maximum age gives up at once (EventAgeExceeded)', async () => {
    const hello = functions.add('hello');
    await configs.put('default', hello.id, { retries: 5, maxEventAgeSeconds: 60, onSuccess: null, onFailure: null }, 0);
    const d = make({ retryBaseMs: 200_000, retryCapMs: 200_000 });
    dispatcher = d;
    script = () => fail();
    await d.start();
    const id = await enqueue(hello);
    await tick();
    const e = await get(id);
    assert.deepEqual([e.status, e.attempts, e.deadLetter], ['failed', 1, 'EventAgeExceeded']);
  });

  test('a throttled event (429 from the pool) is requeued shortly and costs no attempt', async () => {
    const hello = functions.add('hello');
    script = (_i, call) => {
      if (call === 1) throw new AviaryError('TooManyRequests', 'busy', { retryAfter: 1 });
      return { ok: true };
    };
    await dispatcher.start();
    const id = await enqueue(hello);
    await tick();
    let e = await get(id);
    assert.deepEqual([e.status, e.attempts, e.nextAttemptAt! - clock.now()], ['queued', 0, 500]);
    await tick(500);
    e = await get(id);
    assert.deepEqual([e.status, e.attempts, e.history.length], ['succeeded', 1, 1]);
  });

  test('a function is held to its max instances; another function is not delayed by its backlog', async () => {
    const slow = functions.add('slow', 2);
    const quick = functions.add('quick');
    const releases: (() => void)[] = [];
    script = (input) => (input.ref === 'slow' ? new Promise((resolve) => releases.push(() => resolve({ ok: true }))) : { ok: true });
    await dispatcher.start();
    for (let i = 0; i < 6; i++) await enqueue(slow);
    const q = await enqueue(quick);
    await tick();
    assert.equal(calls.filter((c) => c.ref === 'slow').length, 2, 'two at a time');
    assert.equal((await get(q)).status, 'succeeded', 'the quick function ran behind the slow backlog');
    releases.shift()!();
    await tick();
    assert.equal(calls.filter((c) => c.ref === 'slow').length, 3, 'a finished one makes room for the next');
    while (releases.length > 0) {
      releases.shift()!();
      await tick();
    }
    assert.equal((await queue.list({ functionId: slow.id, status: 'succeeded', limit: 10 })).length, 6);
  });

  test('stop waits for running events (bounded); one still running keeps its claim and runs again after restart', async () => {
    const hello = functions.add('hello');
    let release!: () => void;
    script = () => new Promise((resolve) => (release = () => resolve({ ok: true })));
    await dispatcher.start();
    const id = await enqueue(hello);
    await tick();
    const stopped = dispatcher.stop();
    await tick(1000);
    await stopped;
    release();
    await settle();
    assert.equal((await get(id)).status, 'running', 'no write after the stop gave up waiting');
    script = () => ({ ok: true });
    dispatcher = make();
    await dispatcher.start();
    await tick();
    const e = await get(id);
    assert.deepEqual([e.status, e.attempts], ['succeeded', 2]);
    assert.match(warnings.join('\n'), /1 events were running when the server last stopped/);
  });

  test('a webhook destination is posted after the finish and its outcome recorded; a pending one is posted again after restart', async () => {
    const hello = functions.add('hello');
    await configs.put('default', hello.id, { retries: 0, maxEventAgeSeconds: 3600, onSuccess: { type: 'webhook', url: 'http://127.0.0.1:9/hook' }, onFailure: null }, 0);
    const posts: { url: string; body: string; headers: Record<string, string> }[] = [];
    let answer: (ok: boolean) => void = () => {};
    const post = (url: string, body: string, headers: Record<string, string>) => {
      posts.push({ url, body, headers });
      return new Promise<{ ok: boolean; attempts: number; error?: string }>((resolve) => (answer = (ok) => resolve(ok ? { ok, attempts: 1 } : { ok, attempts: 3, error: 'the webhook answered 500' })));
    };
    const withPost = () => new AsyncDispatcher({
      queue, configs, clock, random: () => 0.5, warn: (m) => warnings.push(m), retentionMs: 1, exclusive: true, settings, registry: functions,
      invoker: { invoke: async (input) => ({ requestId: 'r', fn: functions.resolve('', input.ref).fn, version: functions.resolve('', input.ref).version, ok: true, result: { r: 1 }, error: undefined, cold: false, initMs: null, durationMs: 1, logs: [] }) },
      postWebhook: post,
    });
    dispatcher = withPost();
    await dispatcher.start();
    const id = await enqueue(hello);
    await tick();
    assert.equal(posts.length, 1);
    assert.equal(posts[0]?.headers['x-aviary-invocation-id'], id);
    assert.equal(JSON.parse(posts[0]!.body).requestContext.condition, 'Success');
    assert.equal((await get(id)).destination?.status, 'pending');
    // the server stops before the webhook answers: the delivery stays pending
    const stopped = dispatcher.stop();
    await tick(1000);
    await stopped;
    dispatcher = withPost();
    await dispatcher.start();
    await settle();
    assert.equal(posts.length, 2, 'posted again after restart');
    answer(false);
    await settle();
    const e = await get(id);
    assert.deepEqual([e.destination?.status, e.destination?.attempts, e.destination?.error], ['failed', 3, 'the webhook answered 500']);
    assert.match(warnings.join('\n'), /on-success webhook .* failed after 3 tries/);
  });

  test('a topic destination is published after the finish, retried while the topic is full, and recorded', async () => {
    const hello = functions.add('hello');
    await configs.put('default', hello.id, { retries: 0, maxEventAgeSeconds: 3600, onSuccess: null, onFailure: { type: 'topic', name: 'failed' } }, 0);
    const published: { ns: string; name: string; body: string; attributes: Record<string, string> }[] = [];
    let full = 1;
    const topics = {
      find: async () => ({}),
      publish: async (ns: string, name: string, body: string, attributes: Record<string, string>) => {
        if (full-- > 0) throw new AviaryError('TooManyRequests', `topic ${name} is full`);
        published.push({ ns, name, body, attributes });
      },
    };
    script = () => fail('nope');
    dispatcher = new AsyncDispatcher({
      queue, configs, clock, random: () => 0.5, warn: (m) => warnings.push(m), retentionMs: 1, exclusive: true, registry: functions, topics,
      settings: { ...settings, webhookRetryBaseMs: 100 },
      invoker: { invoke: async (input) => ({ requestId: 'r', fn: functions.resolve('', input.ref).fn, version: functions.resolve('', input.ref).version, ok: false, result: undefined, error: { errorType: 'Error', errorMessage: 'nope' }, cold: false, initMs: null, durationMs: 1, logs: [] }) },
    });
    await dispatcher.start();
    const id = await enqueue(hello, '{"order":9}');
    await tick();
    assert.equal((await get(id)).destination?.status, 'pending', 'the first publish found the topic full');
    await tick(100);
    const e = await get(id);
    assert.deepEqual([e.destination?.type, e.destination?.target, e.destination?.status, e.destination?.attempts], ['topic', 'failed', 'delivered', 2]);
    assert.equal(published.length, 1);
    assert.deepEqual([published[0]?.ns, published[0]?.name, published[0]?.attributes], ['default', 'failed', { contentType: 'application/json' }]);
    const record = JSON.parse(published[0]!.body);
    assert.equal(record.requestContext.condition, 'RetriesExhausted');
    assert.deepEqual(record.requestPayload, { order: 9 });
  });

  test('maintenance requeues a claim whose lease ran out (2 × timeout + 20 s + margin)', async () => {
    const hello = functions.add('hello');
    const never = new Promise<Partial<InvokeResult>>(() => {});
    script = (_i, call) => (call === 1 ? never : { ok: true });
    dispatcher = make({ leaseMs: 5000 });
    await dispatcher.start();
    const id = await enqueue(hello);
    await tick();
    const claimed = await get(id);
    assert.deepEqual([claimed.status, claimed.leaseUntil! - START], ['running', (2 * 3 + 20) * 1000 + 5000]);
    await tick(60_000);
    const e = await get(id);
    assert.deepEqual([e.status, e.attempts], ['succeeded', 2]);
    assert.match(warnings.join('\n'), /outlived their lease/);
  });
});
