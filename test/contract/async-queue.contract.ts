import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AsyncQueue, AttemptRecord, ClaimOptions, Finish, NewEvent } from '../../src/async/index.ts';

/**
 * The contract every AsyncQueue passes (SQLite now; PostgreSQL and JetStream queues run the
 * same suite). `open` returns a fresh, empty queue; `reopen` (when the backend persists) opens
 * the same data again, as a restarted server would.
 */
export function asyncQueueContract(name: string, open: () => Promise<{ queue: AsyncQueue; reopen?: () => Promise<AsyncQueue>; close: () => Promise<void> }>): void {
  let n = 0;
  const event = (over: Partial<NewEvent> = {}): NewEvent => ({
    id: `ev-${++n}`, namespace: 'default', functionId: 'fa', functionName: 'a', qualifier: null, source: 'api',
    payload: `{"n":${n}}`, depth: 0, enqueuedAt: 1000, ...over,
  });
  const claimAll = (queue: AsyncQueue, now: number, over: Partial<ClaimOptions> = {}) =>
    queue.claim({ now, functions: [{ functionId: 'fa', limit: 100, leaseUntil: now + 60_000 }, { functionId: 'fdest', limit: 100, leaseUntil: now + 60_000 }], ...over });
  const attempt = (over: Partial<AttemptRecord> = {}): AttemptRecord => ({ requestId: 'r1', startedAt: 2000, durationMs: 5, version: 1, status: 'succeeded', ...over });
  const finish = (over: Partial<Finish> = {}): Finish => ({
    status: 'succeeded', at: 3000, attempt: attempt(), result: '{"ok":true}', resultBytes: 11, error: null, deadLetter: null,
    destination: null, destinationRecord: null, followUp: null, ...over,
  });

  describe(`AsyncQueue contract: ${name}`, () => {
    it('enqueues durably and reads back, newest first, filtered by status', async () => {
      const { queue, reopen, close } = await open();
      const a = event();
      const b = event({ enqueuedAt: 1001 });
      assert.deepEqual(await queue.enqueue(a), { id: a.id, duplicate: false });
      await queue.enqueue(b);
      await queue.enqueue(event({ functionId: 'fb', functionName: 'b' }));
      const got = await queue.get('default', a.id);
      assert.equal(got?.status, 'queued');
      assert.equal(got?.attempts, 0);
      assert.equal(got?.payload, a.payload);
      assert.equal(got?.nextAttemptAt, 1000);
      assert.equal(await queue.get('other-namespace', a.id), undefined, 'another namespace does not see it');
      assert.deepEqual((await queue.list({ functionId: 'fa', limit: 10 })).map((e) => e.id), [b.id, a.id]);
      assert.deepEqual((await queue.list({ functionId: 'fa', status: 'running', limit: 10 })), []);
      assert.deepEqual((await queue.list({ functionId: 'fa', limit: 1 })).map((e) => e.id), [b.id]);
      if (reopen) {
        const again = await reopen();
        assert.equal((await again.get('default', a.id))?.status, 'queued', 'accepted events survive a restart');
      }
      await close();
    });

    it('an idempotency key returns the first id within its lifetime, per function', async () => {
      const { queue, close } = await open();
      const first = await queue.enqueue(event(), { key: 'k1', now: 1000, expiresAt: 5000 });
      const again = await queue.enqueue(event(), { key: 'k1', now: 4999, expiresAt: 9999 });
      assert.deepEqual(again, { id: first.id, duplicate: true });
      assert.equal((await queue.list({ functionId: 'fa', limit: 10 })).length, 1, 'nothing new is queued');
      const otherFunction = await queue.enqueue(event({ functionId: 'fb' }), { key: 'k1', now: 2000, expiresAt: 9999 });
      assert.equal(otherFunction.duplicate, false);
      const expired = await queue.enqueue(event(), { key: 'k1', now: 5000, expiresAt: 9999 });
      assert.equal(expired.duplicate, false, 'an expired key is reused');
      assert.notEqual(expired.id, first.id);
      await close();
    });

    it('claims due events oldest first under a lease, counting the attempt', async () => {
      const { queue, close } = await open();
      const late = event({ enqueuedAt: 5000 });
      const early = event({ enqueuedAt: 1000 });
      const mid = event({ enqueuedAt: 2000 });
      for (const e of [late, early, mid]) await queue.enqueue(e);
      const claimed = await claimAll(queue, 3000);
      assert.deepEqual(claimed.map((e) => e.id), [early.id, mid.id], 'the one due at 5000 waits');
      assert.equal(claimed[0]?.status, 'running');
      assert.equal(claimed[0]?.attempts, 1);
      assert.equal(claimed[0]?.leaseUntil, 63_000);
      assert.equal(claimed[0]?.firstAttemptAt, 3000);
      assert.deepEqual(await claimAll(queue, 3000), [], 'a claimed event is not claimed twice');
      assert.deepEqual((await claimAll(queue, 5000)).map((e) => e.id), [late.id]);
      await close();
    });

    it('lists the functions with queued events and their earliest due time; claims up to a limit per function', async () => {
      const { queue, close } = await open();
      assert.deepEqual(await queue.due(), []);
      const busy = [];
      for (let i = 0; i < 10; i++) busy.push(event({ functionId: 'busy', enqueuedAt: 1000 + i }));
      for (const e of busy) await queue.enqueue(e);
      await queue.enqueue(event({ functionId: 'quiet', enqueuedAt: 2000 }));
      await queue.enqueue(event({ functionId: 'later', enqueuedAt: 9000 }));
      assert.deepEqual(await queue.due(), [
        { functionId: 'busy', nextAttemptAt: 1000 }, { functionId: 'later', nextAttemptAt: 9000 }, { functionId: 'quiet', nextAttemptAt: 2000 },
      ]);
      const claimed = await queue.claim({ now: 3000, functions: [{ functionId: 'busy', limit: 2, leaseUntil: 9999 }, { functionId: 'quiet', limit: 5, leaseUntil: 8888 }, { functionId: 'later', limit: 5, leaseUntil: 9999 }] });
      assert.deepEqual(claimed.map((e) => e.id), [busy[0]!.id, busy[1]!.id, claimed[2]!.id]);
      assert.deepEqual(claimed.map((e) => e.functionId), ['busy', 'busy', 'quiet'], 'no more than asked; nothing not yet due');
      assert.deepEqual(claimed.map((e) => e.leaseUntil), [9999, 9999, 8888], 'each function\'s own lease');
      assert.deepEqual(await queue.due(), [{ functionId: 'busy', nextAttemptAt: 1002 }, { functionId: 'later', nextAttemptAt: 9000 }]);
      assert.deepEqual(await queue.claim({ now: 3000, functions: [] }), []);
      await close();
    });

    it('writes issued together commit together, and one that fails does not undo the others', async () => {
      const { queue, close } = await open();
      const a = event();
      const results = await Promise.allSettled([queue.enqueue(a), queue.enqueue({ ...a }), queue.enqueue(event())]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'], 'the same id twice is refused');
      assert.equal((await queue.list({ functionId: 'fa', limit: 10 })).length, 2);
      await close();
    });

    it('finishes a claim once; a stale claim changes nothing', async () => {
      const { queue, close } = await open();
      const e = event();
      await queue.enqueue(e);
      const [c] = await claimAll(queue, 2000);
      assert.ok(c);
      assert.equal(await queue.finish(e.id, c.leaseToken + 1, finish()), false);
      assert.equal(await queue.finish(e.id, c.leaseToken, finish()), true);
      assert.equal(await queue.finish(e.id, c.leaseToken, finish()), false, 'not twice');
      const done = await queue.get('default', e.id);
      assert.equal(done?.status, 'succeeded');
      assert.equal(done?.result, '{"ok":true}');
      assert.equal(done?.finishedAt, 3000);
      assert.equal(done?.nextAttemptAt, null);
      assert.deepEqual(done?.history, [attempt()]);
      await close();
    });

    it('retries later: a failed run counts, a throttled one does not', async () => {
      const { queue, close } = await open();
      const e = event();
      await queue.enqueue(e);
      let [c] = await claimAll(queue, 2000);
      assert.equal(await queue.retry(e.id, c!.leaseToken, { nextAttemptAt: 4000, attempt: attempt({ status: 'failed', errorType: 'Error' }), error: '{"errorType":"Error","errorMessage":"x"}' }), true);
      let got = await queue.get('default', e.id);
      assert.deepEqual([got?.status, got?.attempts, got?.nextAttemptAt], ['queued', 1, 4000]);
      assert.equal(got?.error, '{"errorType":"Error","errorMessage":"x"}');
      assert.deepEqual(await claimAll(queue, 3999), [], 'not before its time');
      [c] = await claimAll(queue, 4000);
      assert.equal(c?.attempts, 2);
      assert.equal(await queue.retry(e.id, c!.leaseToken, { nextAttemptAt: 4500, attempt: null, error: null }), true);
      got = await queue.get('default', e.id);
      assert.equal(got?.attempts, 1, 'the throttled claim is not an attempt');
      assert.equal(got?.error, '{"errorType":"Error","errorMessage":"x"}', 'the last error is kept');
      assert.equal(got?.history.length, 1);
      await close();
    });

    it('dead-letters with the finish; redrive queues the same id again, purge empties', async () => {
      const { queue, close } = await open();
      const a = event();
      const b = event();
      for (const e of [a, b]) await queue.enqueue(e);
      for (const c of await claimAll(queue, 2000)) {
        await queue.finish(c.id, c.leaseToken, finish({ status: 'failed', result: null, resultBytes: null, error: '{"errorType":"E","errorMessage":"m"}', deadLetter: 'RetriesExhausted' }));
      }
      const letters = await queue.deadLetters('fa', 10);
      assert.deepEqual(letters.map((d) => d.eventId).sort(), [a.id, b.id].sort());
      assert.equal(letters[0]?.reason, 'RetriesExhausted');
      assert.equal(letters[0]?.attempts, 1);
      assert.equal((await queue.deadLetter('fa', a.id))?.payload, a.payload);
      assert.equal(await queue.deadLetter('fb', a.id), undefined, 'dead letters belong to their function');
      assert.equal((await queue.get('default', a.id))?.deadLetter, 'RetriesExhausted');

      assert.deepEqual(await queue.redrive('fa', [a.id, 'nope'], 5000), { ids: [], missing: ['nope'] });
      assert.equal((await queue.deadLetters('fa', 10)).length, 2, 'a redrive naming an unknown id changes nothing');
      assert.deepEqual(await queue.redrive('fa', [a.id], 5000), { ids: [a.id], missing: [] });
      const again = await queue.get('default', a.id);
      assert.deepEqual([again?.status, again?.attempts, again?.enqueuedAt, again?.deadLetter, again?.finishedAt], ['queued', 0, 5000, null, null]);
      assert.equal(again?.history.length, 1, 'the earlier run stays in the history');
      assert.deepEqual((await claimAll(queue, 5000)).map((e) => e.id), [a.id]);

      assert.equal(await queue.purge('fa', undefined), 1);
      assert.deepEqual(await queue.deadLetters('fa', 10), []);
      await close();
    });

    it('queues a function destination\'s event in the same commit as the finish', async () => {
      const { queue, close } = await open();
      const e = event();
      await queue.enqueue(e);
      const [c] = await claimAll(queue, 2000);
      const follow = event({ functionId: 'fdest', functionName: 'dest', source: 'destination', depth: 1, enqueuedAt: 3000, payload: '{"record":1}' });
      await queue.finish(e.id, c!.leaseToken, finish({ followUp: follow }));
      const claimed = await claimAll(queue, 3000);
      assert.deepEqual(claimed.map((x) => [x.id, x.functionId, x.depth, x.source]), [[follow.id, 'fdest', 1, 'destination']]);
      await close();
    });

    it('recovers running events whose lease expired, and only those', async () => {
      const { queue, close } = await open();
      const a = event();
      const b = event();
      await queue.enqueue(a);
      await queue.claim({ now: 2000, functions: [{ functionId: 'fa', limit: 1, leaseUntil: 3000 }] });
      await queue.enqueue(b);
      await queue.claim({ now: 2000, functions: [{ functionId: 'fa', limit: 1, leaseUntil: 9000 }] });
      assert.equal(await queue.recover(5000, 5000), 1);
      assert.equal((await queue.get('default', a.id))?.status, 'queued');
      assert.equal((await queue.get('default', a.id))?.attempts, 1, 'the cut-short run still counts');
      assert.equal((await queue.get('default', b.id))?.status, 'running');
      assert.equal(await queue.recover(Number.MAX_SAFE_INTEGER, 5000), 1, 'everything, for an exclusive restart');
      assert.deepEqual((await claimAll(queue, 5000)).map((e) => e.id).sort(), [a.id, b.id].sort());
      await close();
    });

    it('keeps a pending webhook delivery with its record until it is recorded', async () => {
      const { queue, close } = await open();
      const e = event();
      await queue.enqueue(e);
      const [c] = await claimAll(queue, 2000);
      const pending = { type: 'webhook' as const, target: 'http://x/', condition: 'Success' as const, status: 'pending' as const, attempts: 0, at: 3000 };
      await queue.finish(e.id, c!.leaseToken, finish({ destination: pending, destinationRecord: '{"r":1}' }));
      const p = await queue.pendingDeliveries(10);
      assert.deepEqual(p.map((x) => [x.event.id, x.record, x.event.destination?.status]), [[e.id, '{"r":1}', 'pending']]);
      assert.equal(await queue.prune(Number.MAX_SAFE_INTEGER, 0), 0, 'an event with a pending delivery is not pruned');
      await queue.recordDelivery(e.id, { ...pending, status: 'delivered', attempts: 1 });
      assert.deepEqual(await queue.pendingDeliveries(10), []);
      assert.equal((await queue.get('default', e.id))?.destination?.status, 'delivered');
      assert.equal(await queue.prune(3001, 0), 1);
      assert.equal(await queue.get('default', e.id), undefined);
      await close();
    });

    it('stores async configs, and deleting a function deletes all of its async rows', async () => {
      const { queue, close } = await open();
      const config = { functionId: 'fa', namespace: 'default', retries: 4, maxEventAgeSeconds: 600, onSuccess: '{"type":"function","name":"b"}', onFailure: null, updatedAt: 1 };
      await queue.putConfig(config);
      assert.deepEqual(await queue.getConfig('fa'), config);
      await queue.putConfig({ ...config, retries: 0 });
      assert.deepEqual((await queue.listConfigs()).map((c) => c.retries), [0]);
      const e = event();
      await queue.enqueue(e, { key: 'k', now: 1, expiresAt: 99_999 });
      await queue.enqueue(event({ functionId: 'fb' }));
      await queue.deleteFunction('fa');
      assert.equal(await queue.getConfig('fa'), undefined);
      assert.equal(await queue.get('default', e.id), undefined);
      assert.equal((await queue.list({ functionId: 'fb', limit: 10 })).length, 1, 'other functions keep theirs');
      assert.equal((await queue.enqueue(event(), { key: 'k', now: 2, expiresAt: 99_999 })).duplicate, false, 'its idempotency keys went too');
      assert.equal(await queue.deleteConfig('fb'), false);
      await close();
    });
  });
}
