// Queueing at a busy instance (--instance-queue, src/pool/pool.ts): when a short-running
// function is at its instance limit, the next request is sent to a busy instance and starts
// right after the running one, one at a time. If that instance dies first, the queued request
// never ran and runs once on a fresh instance. Real server processes, real sandboxes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, waitFor, type ApiResponse, type InvokeBody } from '../helpers/api.ts';

interface Instances {
  live: number;
  idle: number;
  busy: number;
  waiting: number;
  queued: number;
}

let server: RunningServer;
let api: TestApi;
let off: RunningServer;
let offApi: TestApi;

before(async () => {
  [server, off] = await Promise.all([startServer(), startServer({ args: ['--instance-queue', '0'] })]);
  api = new TestApi(server.url, server.adminKey);
  offApi = new TestApi(off.url, off.adminKey);
});
after(async () => {
  await Promise.all([server?.stop(), off?.stop()]);
});

async function instances(client: TestApi, name: string): Promise<Instances> {
  const r = await client.request('GET', `/v1/functions/${name}`);
  assert.equal(r.status, 200, r.text);
  return r.json.instances as Instances;
}

/** Deploys node-crash-on-demand with one instance and makes ten short invocations (its run-time average). */
async function deployWarm(client: TestApi, name: string, config: { timeout?: number; warmSleepMs?: number } = {}): Promise<void> {
  const d = await client.deployDir(name, fixture('node-crash-on-demand'), { handler: 'index.handler', maxInstances: 1, timeout: config.timeout ?? 10 });
  assert.equal(d.status, 201, d.text);
  for (let i = 0; i < 10; i++) {
    const r = await client.invoke(name, { sleepMs: config.warmSleepMs ?? 0 });
    assert.equal(r.json.status, 'succeeded', JSON.stringify(r.json.error));
  }
}

/** Starts a long first invocation, then a second one once the first is running; resolves both. */
async function busyThenAnother(client: TestApi, name: string, first: unknown, seen: (i: Instances) => boolean): Promise<{ a: ApiResponse<InvokeBody>; b: ApiResponse<InvokeBody>; observed: string | true }> {
  const a = client.invoke(name, first);
  assert.ok(await waitFor(async () => (await instances(client, name)).busy === 1, 5000, 10), 'the first invocation did not start');
  const b = client.invoke(name, {});
  let last: Instances | undefined;
  const ok = await waitFor(async () => seen((last = await instances(client, name))), 2000, 10);
  return { a: await a, b: await b, observed: ok || `instances while the first ran: ${JSON.stringify(last)}` };
}

describe('queueing at a busy instance', () => {
  test('a request for a short function at its limit queues at the busy instance and runs right after, on it', async () => {
    await deployWarm(api, 'q-fast');
    const { a, b, observed } = await busyThenAnother(api, 'q-fast', { sleepMs: 600 }, (i) => i.queued === 1 && i.waiting === 0);
    assert.equal(observed, true, 'the second request was not queued at the instance');
    assert.equal(a.json.status, 'succeeded', JSON.stringify(a.json.error));
    assert.equal(b.json.status, 'succeeded', JSON.stringify(b.json.error));
    assert.deepEqual(a.json.result, { count: 11 });
    assert.deepEqual(b.json.result, { count: 12 }, 'the same instance, after the first');
    assert.equal(b.json.cold, false);
    assert.deepEqual(await instances(api, 'q-fast'), { live: 1, idle: 1, busy: 0, waiting: 0, queued: 0 });
  });

  test('many concurrent requests on one instance: every one answered, in turn, never two at once', async () => {
    await deployWarm(api, 'q-many');
    const results = await Promise.all(Array.from({ length: 30 }, () => api.invoke('q-many', {})));
    const counts = results.map((r) => {
      assert.equal(r.json.status, 'succeeded', JSON.stringify(r.json.error));
      return (r.json.result as { count: number }).count;
    }).sort((x, y) => x - y);
    assert.deepEqual(counts, Array.from({ length: 30 }, (_, i) => i + 11), 'each count once: one instance, one at a time');
    assert.equal((await instances(api, 'q-many')).live, 1);
  });

  test('the instance crashes while a request is queued at it: that request runs once, on a fresh instance', async () => {
    await deployWarm(api, 'q-crash');
    const { a, b, observed } = await busyThenAnother(api, 'q-crash', { sleepMs: 500, crash: 'exit' }, (i) => i.queued === 1);
    assert.equal(observed, true, 'the second request was not queued at the instance');
    assert.equal(a.json.status, 'failed');
    assert.equal(a.json.error?.errorType, 'Runtime.ExitError');
    assert.equal(b.json.status, 'succeeded', JSON.stringify(b.json.error));
    assert.deepEqual(b.json.result, { count: 1 }, 'ran on a fresh instance');
    assert.equal(b.json.cold, true);
    const next = await api.invoke('q-crash', {});
    assert.deepEqual(next.json.result, { count: 2 }, 'the queued request ran once on the fresh instance');
  });

  test('the running invocation times out while a request is queued: that request runs on a fresh instance with its full timeout', async () => {
    await deployWarm(api, 'q-timeout', { timeout: 1 });
    const { a, b, observed } = await busyThenAnother(api, 'q-timeout', { sleepMs: 5000 }, (i) => i.queued === 1);
    assert.equal(observed, true, 'the second request was not queued at the instance');
    assert.equal(a.json.error?.errorType, 'Sandbox.Timedout');
    assert.equal(b.json.status, 'succeeded', JSON.stringify(b.json.error));
    assert.deepEqual(b.json.result, { count: 1 });
  });

  test('the function is deleted while a request is queued at its instance: it finishes there, or gets 404; never a new instance', async () => {
    await deployWarm(api, 'q-deleted');
    const a = api.invoke('q-deleted', { sleepMs: 600 });
    assert.ok(await waitFor(async () => (await instances(api, 'q-deleted')).busy === 1, 5000, 10), 'the first invocation did not start');
    const b = api.invoke('q-deleted', {});
    assert.ok(await waitFor(async () => (await instances(api, 'q-deleted')).queued === 1, 2000, 10), 'the second request was not queued at the instance');
    const del = await api.request('DELETE', '/v1/functions/q-deleted');
    assert.equal(del.status, 204, del.text);
    assert.equal((await a).json.status, 'succeeded', 'the running invocation finishes');
    // already in the instance's channel: it runs there right after (as the running one does),
    // unless the instance is ended first; then it is not started anywhere else
    const rb = await b;
    if (rb.status === 200) assert.deepEqual(rb.json.result, { count: 12 }, 'on the old instance, right after the first');
    else assert.match(`${rb.status} ${rb.text}`, /^404 .*FunctionNotFound.*q-deleted/);

    // the instance dies before starting it: 404, not a run on a new instance of a deleted function
    await deployWarm(api, 'q-deleted');
    const c = api.invoke('q-deleted', { sleepMs: 600, crash: 'exit' });
    assert.ok(await waitFor(async () => (await instances(api, 'q-deleted')).busy === 1, 5000, 10), 'the first invocation did not start');
    const d = api.invoke('q-deleted', {});
    assert.ok(await waitFor(async () => (await instances(api, 'q-deleted')).queued === 1, 2000, 10), 'the second request was not queued at the instance');
    assert.equal((await api.request('DELETE', '/v1/functions/q-deleted')).status, 204);
    assert.equal((await c).json.error?.errorType, 'Runtime.ExitError');
    const rd = await d;
    assert.equal(rd.status, 404, rd.text);
    assert.match(rd.text, /FunctionNotFound/);
    assert.match(rd.text, /function q-deleted was deleted while this request waited/);
  });

  test('the depth follows the run time: a function averaging over 5 ms never has two queued at an instance; the next request waits in the function queue', async () => {
    // ~8 ms a run (at least the 8 ms sleep): one queued would wait ~8 ms, two ~16 ms, over the
    // 10 ms bound; on a loaded machine the average may pass 10 ms, and then none queue
    await deployWarm(api, 'q-8ms', { warmSleepMs: 8 });
    const a = api.invoke('q-8ms', { sleepMs: 600 });
    assert.ok(await waitFor(async () => (await instances(api, 'q-8ms')).busy === 1, 5000, 10), 'the first invocation did not start');
    const rest = [api.invoke('q-8ms', {}), api.invoke('q-8ms', {})];
    const seen: Instances[] = [];
    const waited = await waitFor(async () => {
      const i = await instances(api, 'q-8ms');
      seen.push(i);
      return i.busy === 1 && i.waiting >= 1;
    }, 2000, 10);
    assert.equal(waited, true, `no request waited in the function queue: ${JSON.stringify(seen.at(-1))}`);
    assert.ok(seen.every((i) => i.queued <= 1), `two queued at once: ${JSON.stringify(seen.find((i) => i.queued > 1))}`);
    const results = await Promise.all([a, ...rest]);
    assert.deepEqual(results.map((r) => r.json.status), ['succeeded', 'succeeded', 'succeeded']);
    assert.deepEqual(results.map((r) => (r.json.result as { count: number }).count).sort((x, y) => x - y), [11, 12, 13], 'one instance, one at a time');
  });

  test('a function whose invocations take longer than 10 ms waits for a free instance instead', async () => {
    await deployWarm(api, 'q-slow', { warmSleepMs: 40 });
    const { a, b, observed } = await busyThenAnother(api, 'q-slow', { sleepMs: 600 }, (i) => i.waiting === 1);
    assert.equal(observed, true, 'the second request did not wait in the function queue');
    assert.deepEqual([a.json.status, b.json.status], ['succeeded', 'succeeded']);
  });

  test('--instance-queue 0: requests wait in the function queue, never at an instance', async () => {
    await deployWarm(offApi, 'q-off');
    const { a, b, observed } = await busyThenAnother(offApi, 'q-off', { sleepMs: 600 }, (i) => i.waiting === 1 && i.queued === 0);
    assert.equal(observed, true, 'the second request did not wait in the function queue');
    assert.deepEqual([a.json.status, b.json.status], ['succeeded', 'succeeded']);
    assert.deepEqual(b.json.result, { count: 12 });
  });
});
