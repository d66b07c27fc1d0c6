// The queue trigger runner with a scripted source and a fake clock: batching, partial
// failures, retries, dead letters, concurrency, and reconnecting with backoff.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { QueueTriggerRunner, type TriggerHealth } from '../../src/triggers/queue/index.ts';
import { newHealth, type DeadLetterer } from '../../src/triggers/queue/poller.ts';
import { failedItems, toEvents } from '../../src/triggers/queue/event.ts';
import type { QueueMessage, QueueSource, QueueTriggerRecord } from '../../src/triggers/queue/index.ts';
import type { InvokeInput, InvokeResult } from '../../src/invoke/index.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

interface Settled {
  acked: string[];
  retried: { id: string; delayMs: number }[];
}

/** A source whose messages are pushed by the test and whose start fails while `down` is set. */
class ScriptedSource implements QueueSource {
  readonly eventSource = 'aviary:test';
  readonly arn = 'arn:aviary:test:local:000000000000:t';
  readonly settled: Settled = { acked: [], retried: [] };
  down: string | undefined;
  starts = 0;
  #queue: QueueMessage[] = [];
  #wake: (() => void)[] = [];
  #onBroken: ((err: Error) => void) | undefined;

  async start(onBroken: (err: Error) => void): Promise<void> {
    this.starts++;
    if (this.down) throw new Error(this.down);
    this.#onBroken = onBroken;
  }

  push(id: string, body: string, receiveCount = 1): void {
    this.#queue.push({
      id, body, receiveCount, sentAt: 1, firstReceivedAt: 2, attributes: {},
      ack: async () => void this.settled.acked.push(id),
      retry: async (delayMs) => void this.settled.retried.push({ id, delayMs }),
    });
    for (const w of this.#wake.splice(0)) w();
  }

  breakNow(message: string): void {
    this.#onBroken?.(new Error(message));
  }

  async receive(max: number, _windowMs: number, signal: AbortSignal): Promise<QueueMessage[]> {
    while (this.#queue.length === 0) {
      if (signal.aborted) return [];
      await new Promise<void>((r) => {
        this.#wake.push(r);
        signal.addEventListener('abort', () => r(), { once: true });
      });
    }
    return this.#queue.splice(0, max);
  }

  async stop(): Promise<void> {}
}

const trigger = (over: Partial<QueueTriggerRecord> = {}): QueueTriggerRecord => ({
  id: 'qt_1', namespace: 'default', name: 'orders-in', functionId: 'fn_1', qualifier: null, source: 'topic', topic: 'orders', subject: null,
  url: null, stream: null, batchSize: 10, batchWindowMs: 0, maxConcurrency: 1, maxRetries: 2, deadLetterTopic: null, enabled: true,
  createdAt: 0, updatedAt: 0, ...over,
});

type Answer = { ok: true; result: unknown } | { ok: false; errorMessage: string } | { throws: string };

function setup(options: { trigger?: Partial<QueueTriggerRecord>; answer?: (event: { Records: { messageId: string; body: string }[] }) => Answer | Promise<Answer>; maxEventBytes?: number } = {}) {
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  const source = new ScriptedSource();
  const events: { Records: { messageId: string; body: string; eventSource: string }[] }[] = [];
  const deadLettered: string[] = [];
  const health: TriggerHealth = newHealth(clock.now());
  const invoke = async (input: InvokeInput): Promise<InvokeResult> => {
    assert.equal(input.source, 'queue');
    const event = JSON.parse(input.eventJson) as (typeof events)[number];
    events.push(event);
    const a = await (options.answer ?? (() => ({ ok: true, result: null }) as Answer))(event);
    if ('throws' in a) throw new Error(a.throws);
    return (a.ok
      ? { requestId: 'r1', ok: true, result: a.result }
      : { requestId: 'r1', ok: false, error: { errorType: 'Error', errorMessage: a.errorMessage } }) as unknown as InvokeResult;
  };
  const deadLetter: DeadLetterer = async (m) => {
    deadLettered.push(m.id);
    await m.ack();
    return 'dead-lettered';
  };
  const runner = new QueueTriggerRunner({
    trigger: trigger(options.trigger), source, invoke, functionRef: () => 'process-order', deadLetter, health, clock,
    maxEventBytes: options.maxEventBytes ?? 6 * 1024 * 1024, warn: () => undefined, reconnectDelayMs: (n) => 1000 * n,
  });
  return { clock, source, events, deadLettered, health, runner };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await tick();
  assert.ok(check(), `timed out waiting for: ${what}`);
}

describe('QueueTriggerRunner', () => {
  it('invokes with an SQS-style event and acks every message once the function succeeded', async () => {
    const t = setup();
    t.runner.start();
    t.source.push('m1', '{"a":1}');
    t.source.push('m2', 'text');
    await until(() => t.source.settled.acked.length === 2, 'both acked');
    assert.equal(t.events.length, 1, 'one batch');
    const [r1] = t.events[0]!.Records;
    assert.equal(r1?.messageId, 'm1');
    assert.equal(r1?.body, '{"a":1}');
    assert.equal(r1?.eventSource, 'aviary:test');
    assert.equal(t.health.succeeded, 2);
    assert.equal(t.health.status, 'healthy');
    await t.runner.stop();
  });

  it('retries only the messages named in batchItemFailures, with a growing delay', async () => {
    const t = setup({ answer: () => ({ ok: true, result: { batchItemFailures: [{ itemIdentifier: 'm2' }] } }) });
    t.runner.start();
    t.source.push('m1', 'a');
    t.source.push('m2', 'b', 2);
    t.source.push('m3', 'c');
    await until(() => t.source.settled.acked.length + t.source.settled.retried.length === 3, 'all settled');
    assert.deepEqual(t.source.settled.acked.sort(), ['m1', 'm3']);
    assert.deepEqual(t.source.settled.retried, [{ id: 'm2', delayMs: 2000 }]);
    assert.match(t.health.lastFailure ?? '', /1 of 3 messages in batchItemFailures/);
    await t.runner.stop();
  });

  it('retries the whole batch when the function fails, or answers with a malformed batchItemFailures', async () => {
    for (const answer of [
      (): Answer => ({ ok: false, errorMessage: 'boom' }),
      (): Answer => ({ throws: 'function process-order does not exist' }),
      (): Answer => ({ ok: true, result: { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] } }),
      (): Answer => ({ ok: true, result: { batchItemFailures: [{}] } }),
      (): Answer => ({ ok: true, result: { batchItemFailures: 'm1' } }),
    ]) {
      const t = setup({ answer });
      t.runner.start();
      t.source.push('m1', 'a');
      t.source.push('m2', 'b');
      await until(() => t.source.settled.retried.length === 2, 'both retried');
      assert.deepEqual(t.source.settled.acked, []);
      assert.ok(t.health.lastFailure, 'the failure is recorded');
      await t.runner.stop();
    }
  });

  it('dead-letters a message whose last allowed attempt failed, instead of retrying it', async () => {
    const t = setup({ trigger: { maxRetries: 2 }, answer: () => ({ ok: false, errorMessage: 'always' }) });
    t.runner.start();
    t.source.push('young', 'a', 2);
    t.source.push('old', 'b', 3);
    await until(() => t.deadLettered.length === 1 && t.source.settled.retried.length === 1, 'settled');
    assert.deepEqual(t.deadLettered, ['old']);
    assert.deepEqual(t.source.settled.retried.map((r) => r.id), ['young']);
    assert.equal(t.health.deadLettered, 1);
    await t.runner.stop();
  });

  it('runs at most maxConcurrency batches at once', async () => {
    let running = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const t = setup({
      trigger: { maxConcurrency: 3, batchSize: 1 },
      answer: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => gates.push(r));
        running--;
        return { ok: true, result: null };
      },
    });
    t.runner.start();
    for (let i = 0; i < 8; i++) t.source.push(`m${i}`, 'x');
    await until(() => gates.length === 3, 'three batches running');
    await tick();
    assert.equal(running, 3);
    while (t.source.settled.acked.length < 8) {
      gates.shift()?.();
      await tick();
    }
    assert.equal(peak, 3);
    await t.runner.stop();
  });

  it('splits a batch whose event would pass the payload limit', async () => {
    const t = setup({ maxEventBytes: 3000 });
    t.runner.start();
    for (let i = 0; i < 4; i++) t.source.push(`m${i}`, 'x'.repeat(1000));
    await until(() => t.source.settled.acked.length === 4, 'all acked');
    assert.ok(t.events.length >= 2, `split into ${t.events.length} events`);
    assert.equal(t.events.flatMap((e) => e.Records).length, 4);
    await t.runner.stop();
  });

  it('marks the trigger unhealthy while its broker is away, retries with backoff on the clock, and resumes', async () => {
    const t = setup();
    t.source.down = 'cannot connect to NATS at nats://127.0.0.1:4299: ECONNREFUSED';
    t.runner.start();
    await until(() => t.health.status === 'unhealthy', 'unhealthy');
    assert.match(t.health.lastError ?? '', /ECONNREFUSED/);
    assert.equal(t.health.nextAttemptAt, t.clock.now() + 1000);
    t.clock.advance(999);
    await tick();
    assert.equal(t.source.starts, 1, 'no attempt before the backoff');
    t.clock.advance(1);
    await until(() => t.source.starts === 2, 'second attempt');
    await until(() => t.health.nextAttemptAt !== null, 'third attempt scheduled');
    assert.equal(t.health.nextAttemptAt, t.clock.now() + 2000, 'the delay grows');
    t.source.down = undefined;
    t.clock.advance(2000);
    await until(() => t.health.status === 'healthy', 'healthy again');
    assert.ok(t.health.lastError, 'the last error stays visible');
    t.source.push('m1', 'after the outage');
    await until(() => t.source.settled.acked.length === 1, 'delivered');
    await t.runner.stop();
  });

  it('reconnects when the source breaks while running', async () => {
    const t = setup();
    t.runner.start();
    await until(() => t.health.status === 'healthy', 'healthy');
    t.source.breakNow('connection to nats://127.0.0.1:4222 closed');
    await until(() => t.health.status === 'unhealthy', 'unhealthy');
    assert.match(t.health.lastError ?? '', /closed/);
    t.clock.advance(1000);
    await until(() => t.health.status === 'healthy' && t.source.starts === 2, 'reconnected');
    await t.runner.stop();
  });

  it('stop lets the batch in flight finish and settles it', async () => {
    let release: () => void = () => undefined;
    const t = setup({ answer: () => new Promise<Answer>((r) => { release = () => r({ ok: true, result: null }); }) });
    t.runner.start();
    t.source.push('m1', 'x');
    await until(() => t.health.inFlight === 1, 'in flight');
    const stopped = t.runner.stop();
    await tick();
    release();
    await stopped;
    assert.deepEqual(t.source.settled.acked, ['m1']);
    assert.equal(t.health.status, 'stopped');
  });
});

describe('batchItemFailures and event size (Lambda rules)', () => {
  const ids = new Set(['a', 'b']);
  it('reads the answer', () => {
    assert.deepEqual(failedItems(null, ids), { retry: new Set() });
    assert.deepEqual(failedItems('ok', ids), { retry: new Set() });
    assert.deepEqual(failedItems({ batchItemFailures: [] }, ids), { retry: new Set() });
    assert.deepEqual(failedItems({ batchItemFailures: null }, ids), { retry: new Set() });
    assert.deepEqual(failedItems({ batchItemFailures: [{ itemIdentifier: 'b' }] }, ids), { retry: new Set(['b']) });
    assert.equal(failedItems({ batchItemFailures: [{ itemIdentifier: '' }] }, ids).retry, 'all');
    assert.equal(failedItems({ batchItemFailures: [{ itemIdentifier: 'zz' }] }, ids).retry, 'all');
    assert.equal(failedItems({ batchItemFailures: {} }, ids).retry, 'all');
  });

  it('keeps every event under the limit unless one record alone is larger', () => {
    const rec = (n: number) => ({ messageId: String(n), body: 'y'.repeat(100) }) as never;
    const events = toEvents([rec(1), rec(2), rec(3)], 200);
    assert.equal(events.length, 3);
    for (const e of events) assert.deepEqual(JSON.parse(e.json).Records.length, 1);
    assert.equal(toEvents([rec(1), rec(2), rec(3)], 10_000).length, 1);
  });
});
