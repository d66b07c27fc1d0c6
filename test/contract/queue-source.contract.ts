import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QueueMessage, QueueSource } from '../../src/triggers/queue/index.ts';

/**
 * The contract every QueueSource passes (built-in topics, NATS JetStream, MQTT), run
 * against the real store or broker. `open` gives a fresh harness with nothing published.
 */
export interface SourceHarness {
  /** A source, not started, consuming what `publish` publishes. */
  source(): QueueSource;
  publish(body: string): Promise<void>;
  /** A source whose start must fail (unreachable broker, missing topic). */
  unusable(): QueueSource;
  /** Longest time an unsettled message takes to come back after its consumer stopped. */
  redeliveryMs: number;
  close(): Promise<void>;
}

async function started(s: QueueSource): Promise<QueueSource> {
  await s.start(() => undefined);
  return s;
}

/** Receives until `count` messages arrived (or `timeoutMs` passed). */
async function receiveAll(s: QueueSource, count: number, timeoutMs = 10_000): Promise<QueueMessage[]> {
  const got: QueueMessage[] = [];
  const signal = AbortSignal.timeout(timeoutMs);
  while (got.length < count && !signal.aborted) got.push(...(await s.receive(count - got.length, 200, signal)));
  return got;
}

export function queueSourceContract(name: string, open: () => Promise<SourceHarness>): void {
  describe(`QueueSource contract: ${name}`, () => {
    it('hands out published messages with their bodies, in batches of at most max', async () => {
      const h = await open();
      const s = await started(h.source());
      try {
        const bodies = ['{"n":1}', '{"n":2}', 'plain text', '{"n":4}', 'ünïcødé ✓'];
        for (const b of bodies) await h.publish(b);
        const first = await s.receive(3, 1000, AbortSignal.timeout(10_000));
        assert.ok(first.length >= 1 && first.length <= 3, `a batch of 1-3, got ${first.length}`);
        const rest = await receiveAll(s, bodies.length - first.length);
        const all = [...first, ...rest];
        assert.deepEqual(all.map((m) => m.body).sort(), [...bodies].sort());
        assert.equal(new Set(all.map((m) => m.id)).size, bodies.length, 'ids are unique');
        for (const m of all) {
          assert.equal(m.receiveCount, 1);
          assert.ok(Math.abs(m.sentAt - Date.now()) < 60_000, `sentAt ${m.sentAt} is about now`);
          assert.ok(m.firstReceivedAt >= m.sentAt - 1000);
        }
        await Promise.all(all.map((m) => m.ack()));
      } finally {
        await s.stop();
        await h.close();
      }
    });

    it('waits up to the batch window to fill a batch', async () => {
      const h = await open();
      const s = await started(h.source());
      try {
        await h.publish('one');
        setTimeout(() => void h.publish('two'), 300);
        const t0 = Date.now();
        const batch = await s.receive(10, 2000, AbortSignal.timeout(10_000));
        assert.deepEqual(batch.map((m) => m.body), ['one', 'two'], 'the second message, published within the window, joins the batch');
        assert.ok(Date.now() - t0 < 5000);
        await Promise.all(batch.map((m) => m.ack()));
      } finally {
        await s.stop();
        await h.close();
      }
    });

    it('resolves to [] when aborted while waiting', async () => {
      const h = await open();
      const s = await started(h.source());
      try {
        const t0 = Date.now();
        assert.deepEqual(await s.receive(10, 0, AbortSignal.timeout(300)), []);
        assert.ok(Date.now() - t0 < 3000);
      } finally {
        await s.stop();
        await h.close();
      }
    });

    it('retry hands the same message out again after the delay, counting the delivery', async () => {
      const h = await open();
      const s = await started(h.source());
      try {
        await h.publish('again');
        const [m] = await receiveAll(s, 1);
        assert.ok(m);
        const t0 = Date.now();
        await m.retry(500);
        const [again] = await receiveAll(s, 1);
        assert.ok(again, 'the retried message comes back');
        assert.ok(Date.now() - t0 >= 400, `not before its delay (${Date.now() - t0} ms)`);
        assert.equal(again.id, m.id);
        assert.equal(again.body, 'again');
        assert.equal(again.receiveCount, 2);
        await again.ack();
      } finally {
        await s.stop();
        await h.close();
      }
    });

    it('an acknowledged message never comes back, even after a restart', async () => {
      const h = await open();
      let s = await started(h.source());
      try {
        await h.publish('done');
        const [m] = await receiveAll(s, 1);
        assert.ok(m);
        await m.ack();
        await s.stop();
        s = await started(h.source());
        assert.deepEqual(await s.receive(10, 0, AbortSignal.timeout(h.redeliveryMs + 1000)), []);
      } finally {
        await s.stop();
        await h.close();
      }
    });

    it('a message handed out and never settled comes back after its consumer stopped', async () => {
      const h = await open();
      let s = await started(h.source());
      try {
        await h.publish('unsettled');
        const [m] = await receiveAll(s, 1);
        assert.ok(m);
        await s.stop(); // as if the process died before the function answered
        s = await started(h.source());
        const [back] = await receiveAll(s, 1, h.redeliveryMs + 10_000);
        assert.ok(back, 'the unsettled message is delivered again');
        assert.equal(back.body, 'unsettled');
        assert.ok(back.receiveCount >= 2, `a redelivery counts (receiveCount ${back.receiveCount})`);
        await back.ack();
      } finally {
        await s.stop();
        await h.close();
      }
    });

    it('start rejects, saying why, when the source cannot be used', async () => {
      const h = await open();
      try {
        const s = h.unusable();
        await assert.rejects(s.start(() => undefined), (err: Error) => err.message.length > 10);
        await s.stop();
      } finally {
        await h.close();
      }
    });

    it('receive never blocks other work: a second receive waits alongside', async () => {
      const h = await open();
      const s = await started(h.source());
      try {
        const a = s.receive(1, 0, AbortSignal.timeout(10_000));
        const b = s.receive(1, 0, AbortSignal.timeout(10_000));
        await h.publish('x');
        await h.publish('y');
        const got = [...(await a), ...(await b)];
        assert.deepEqual(got.map((m) => m.body).sort(), ['x', 'y']);
        await Promise.all(got.map((m) => m.ack()));
      } finally {
        await s.stop();
        await h.close();
      }
    });
  });
}
