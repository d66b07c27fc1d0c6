// Instance pool through a real server process started with --idle-ttl 2: idle instances are
// reaped, and min-warm instances start without an invocation and survive the TTL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, waitFor } from '../helpers/api.ts';

const IDLE_TTL_S = 2;
let server: RunningServer;
let api: TestApi;

before(async () => {
  server = await startServer({ args: ['--idle-ttl', String(IDLE_TTL_S)] });
  api = new TestApi(server.url, server.adminKey);
});
after(async () => {
  await server?.stop();
});

interface Instances {
  live: number;
  idle: number;
  busy: number;
  waiting: number;
}

async function instances(name: string): Promise<Instances> {
  const r = await api.request('GET', `/v1/functions/${name}`);
  assert.equal(r.status, 200, r.text);
  return r.json.instances as Instances;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pool', () => {
  test('an idle instance is reaped after the idle TTL', async () => {
    const d = await api.deployDir('reaped', fixture('node-counter'), { handler: 'index.handler' });
    assert.equal(d.status, 201, d.text);
    const r = await api.invoke('reaped');
    assert.equal(r.json.status, 'succeeded', JSON.stringify(r.json.error));
    const afterInvoke = await instances('reaped');
    assert.equal(afterInvoke.live, 1);
    assert.equal(afterInvoke.idle, 1);
    const reaped = await waitFor(async () => (await instances('reaped')).live === 0, 15_000, 200);
    assert.ok(reaped, `still live after 15 s: ${JSON.stringify(await instances('reaped'))}`);
    // the next invoke starts a fresh instance
    const next = await api.invoke('reaped');
    assert.equal(next.json.cold, true);
    assert.deepEqual(next.json.result, { count: 1 });
  });

  test('minWarm: 2 keeps two instances without any invoke, past the TTL; the first invoke is warm', async () => {
    const d = await api.deployDir('warm', fixture('node-counter'), { handler: 'index.handler', minWarm: 2 });
    assert.equal(d.status, 201, d.text);
    const started = await waitFor(async () => (await instances('warm')).live === 2, 15_000, 100);
    assert.ok(started, `min-warm instances did not start: ${JSON.stringify(await instances('warm'))}`);
    // stay for twice the TTL plus the reaper's period, checking all along
    const until = Date.now() + IDLE_TTL_S * 2000 + 1500;
    while (Date.now() < until) {
      assert.equal((await instances('warm')).live, 2, 'min-warm instances were reaped');
      await sleep(250);
    }
    const first = await api.invoke('warm');
    assert.equal(first.json.status, 'succeeded', JSON.stringify(first.json.error));
    assert.equal(first.json.cold, false);
    assert.deepEqual(first.json.result, { count: 1 }, 'a pre-warmed instance that never ran an invocation');
    assert.equal((await instances('warm')).live, 2);
  });
});
