// Asynchronous invocations through a real server process: ?mode=async, retries, dead letters and
// redrive, destinations (function and webhook), Idempotency-Key, limits and bad input.
// Crash safety (kill -9): async-crash.test.ts. The dispatcher's timing logic: unit/async-dispatcher.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, waitFor } from '../helpers/api.ts';
import { Collector } from '../helpers/collector.ts';

let server: RunningServer;
let api: TestApi;
let collector: Collector;

before(async () => {
  collector = await new Collector().start();
  server = await startServer({
    env: {
      AVIARY_ASYNC_RETRY_BASE_MS: '50', AVIARY_ASYNC_RETRY_CAP_MS: '200', AVIARY_ASYNC_POLL_MS: '100',
      AVIARY_ASYNC_WEBHOOK_ATTEMPTS: '2', AVIARY_ASYNC_WEBHOOK_RETRY_BASE_MS: '50', AVIARY_ASYNC_WEBHOOK_TIMEOUT_MS: '2000',
    },
  });
  api = new TestApi(server.url, server.adminKey);
});
after(async () => {
  await server?.stop();
  await collector?.stop();
});

async function deploy(name: string, fixtureName = 'node-async', config: Record<string, unknown> = {}): Promise<void> {
  const r = await api.deployDir(name, fixture(fixtureName), { handler: 'index.handler', maxInstances: 1, ...config });
  assert.equal(r.status, 201, `deploy ${name}: ${r.text}`);
}

async function accept(ref: string, event: unknown, headers: Record<string, string> = {}): Promise<string> {
  const r = await api.request('POST', `/v1/functions/${ref}/invocations?mode=async`, JSON.stringify(event), { 'content-type': 'application/json', ...headers });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.status, 'queued');
  assert.equal(r.headers.get('location'), `/v1/invocations/${r.json.id}`);
  return r.json.id as string;
}

/** Polls GET /v1/invocations/{id} until it reaches `status`; returns the invocation. */
async function settled(id: string, status: 'succeeded' | 'failed', timeoutMs = 15_000): Promise<any> {
  let last: any;
  const ok = await waitFor(async () => {
    last = (await api.request('GET', `/v1/invocations/${id}`)).json?.invocation;
    return last?.status === status && (last.destination === null || last.destination.status !== 'pending');
  }, timeoutMs, 50);
  assert.ok(ok, `invocation ${id} did not reach ${status}: ${JSON.stringify(last)}\n${server.output().slice(-2000)}`);
  return last;
}

function expectError(r: { status: number; json: any; text: string }, status: number, code: string, path?: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.code, code, r.text);
  if (path !== undefined) assert.ok(r.json.error.issues?.some((i: { path: string }) => i.path === path), `no issue for ${path}: ${r.text}`);
}

describe('accepting and running', () => {
  test('202 with an id; the event runs and its record shows status, attempts, timings and the result', async () => {
    await deploy('hello');
    const id = await accept('hello', { key: 'first' });
    const inv = await settled(id, 'succeeded');
    assert.equal(inv.function, 'hello');
    assert.equal(inv.source, 'api');
    assert.equal(inv.attempts, 1);
    assert.equal(inv.version, 1);
    assert.deepEqual(inv.result, { key: 'first', run: 1 });
    assert.ok(Date.parse(inv.enqueuedAt) <= Date.parse(inv.firstAttemptAt) && Date.parse(inv.firstAttemptAt) <= Date.parse(inv.finishedAt));
    assert.equal(typeof inv.durationMs, 'number');
    assert.equal(inv.history.length, 1);
    assert.equal(inv.history[0].requestId, inv.requestId);
    // the run's records are the invoke pipeline's: its logs are found by its request id
    const logs = await api.request('GET', `/v1/functions/hello/logs?invocation=${inv.requestId}`);
    assert.equal(logs.status, 200, logs.text);

    const list = await api.request('GET', '/v1/functions/hello/invocations?status=succeeded&limit=10');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.invocations.map((i: { id: string }) => i.id), [id]);
    assert.equal(list.json.invocations[0].result, undefined, 'the list leaves results out');
    assert.deepEqual((await api.request('GET', '/v1/functions/hello/invocations?status=failed')).json.invocations, []);
  });

  test('a function that fails twice then succeeds shows three attempts', async () => {
    await deploy('flaky');
    const id = await accept('flaky', { key: 'k', failTimes: 2 });
    const inv = await settled(id, 'succeeded');
    assert.equal(inv.attempts, 3);
    assert.deepEqual(inv.history.map((h: { status: string }) => h.status), ['failed', 'failed', 'succeeded']);
    assert.equal(inv.history[0].errorType, 'Error');
    assert.deepEqual(inv.result, { key: 'k', run: 3 });
    assert.equal(inv.error, null);
  });

  test('unknown function → 404 and nothing is queued', async () => {
    const r = await api.request('POST', '/v1/functions/ghost/invocations?mode=async', '{}', { 'content-type': 'application/json' });
    expectError(r, 404, 'FunctionNotFound');
    await deploy('ghost');
    assert.deepEqual((await api.request('GET', '/v1/functions/ghost/invocations')).json.invocations, []);
    expectError(await api.request('GET', '/v1/functions/nobody/invocations'), 404, 'FunctionNotFound');
    expectError(await api.request('GET', '/v1/invocations/00000000-0000-0000-0000-000000000000'), 404, 'NotFound');
  });

  test('an event over 256 KB → 413 naming the limit, and nothing is queued', async () => {
    await deploy('big');
    const r = await api.request('POST', '/v1/functions/big/invocations?mode=async', JSON.stringify({ pad: 'x'.repeat(300 * 1024) }), { 'content-type': 'application/json' });
    expectError(r, 413, 'PayloadTooLarge');
    assert.match(r.json.error.message, /limit for asynchronous invocations is 262144 bytes \(256 KB\)/);
    assert.deepEqual((await api.request('GET', '/v1/functions/big/invocations')).json.invocations, []);
    const sync = await api.invoke('big', { pad: 'x'.repeat(300 * 1024) });
    assert.equal(sync.status, 200, 'the synchronous limit (6 MB) is unchanged');
  });

  test('bad invocation inputs → 400 naming the field', async () => {
    const post = (query: string, body = '{}', headers: Record<string, string> = {}) =>
      api.request('POST', `/v1/functions/hello/invocations${query}`, body, { 'content-type': 'application/json', ...headers });
    expectError(await post('?mode=later'), 400, 'ValidationError', 'mode');
    expectError(await post('?mode=async&log=true'), 400, 'ValidationError', 'log');
    expectError(await post('?mode=async', '{oops'), 400, 'ValidationError', 'body');
    expectError(await post('', '{}', { 'idempotency-key': 'k' }), 400, 'ValidationError', 'Idempotency-Key');
    expectError(await post('?mode=async', '{}', { 'idempotency-key': 'x'.repeat(256) }), 400, 'ValidationError', 'Idempotency-Key');
    expectError(await api.request('GET', '/v1/functions/hello/invocations?status=done'), 400, 'ValidationError', 'status');
    expectError(await api.request('GET', '/v1/functions/hello/invocations?limit=0'), 400, 'ValidationError', 'limit');
  });
});

describe('idempotency', () => {
  test('the same Idempotency-Key returns the first id and runs once', async () => {
    await deploy('once');
    const event = { key: 'pay-1', report: `${collector.url}/once` };
    const first = await accept('once', event, { 'idempotency-key': 'order-42' });
    const again = await api.request('POST', '/v1/functions/once/invocations?mode=async', JSON.stringify(event), { 'content-type': 'application/json', 'idempotency-key': 'order-42' });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.json.id, first);
    assert.equal(again.json.duplicate, true);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    await settled(first, 'succeeded');
    const third = await api.request('POST', '/v1/functions/once/invocations?mode=async', JSON.stringify(event), { 'content-type': 'application/json', 'idempotency-key': 'order-42' });
    assert.deepEqual([third.json.id, third.json.status], [first, 'succeeded'], 'a replay reports the first invocation\'s status');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(collector.on('/once').length, 1, 'the function ran once');
    assert.equal((await api.request('GET', '/v1/functions/once/invocations')).json.invocations.length, 1);
    const other = await accept('once', { key: 'pay-2' }, { 'idempotency-key': 'order-43' });
    assert.notEqual(other, first);
  });
});

describe('dead letters', () => {
  test('retries exhausted → a dead letter; redrive runs it again; purge empties the queue', async () => {
    await deploy('doomed');
    const cfg = await api.request('PUT', '/v1/functions/doomed/async-config', { retries: 1 });
    assert.equal(cfg.status, 200, cfg.text);
    const id = await accept('doomed', { key: 'd', failTimes: 2 });
    const inv = await settled(id, 'failed');
    assert.equal(inv.attempts, 2);
    assert.equal(inv.deadLetter, 'RetriesExhausted');
    assert.equal(inv.error.errorMessage, 'failing run 2 of 2');

    const list = await api.request('GET', '/v1/functions/doomed/dlq');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.deadLetters.map((d: { id: string; reason: string; attempts: number }) => [d.id, d.reason, d.attempts]), [[id, 'RetriesExhausted', 2]]);
    const one = await api.request('GET', `/v1/functions/doomed/dlq/${id}`);
    assert.deepEqual(one.json.deadLetter.payload, { key: 'd', failTimes: 2 });
    expectError(await api.request('GET', '/v1/functions/doomed/dlq/nope'), 404, 'NotFound');

    const unknown = await api.request('POST', '/v1/functions/doomed/dlq/redrive', { ids: [id, 'nope'] });
    expectError(unknown, 404, 'NotFound');
    assert.match(unknown.json.error.message, /nope/);
    assert.equal((await api.request('GET', '/v1/functions/doomed/dlq')).json.deadLetters.length, 1, 'nothing was redriven');
    expectError(await api.request('POST', '/v1/functions/doomed/dlq/redrive', { ids: 'all' }), 400, 'ValidationError', 'ids');

    const redrive = await api.request('POST', '/v1/functions/doomed/dlq/redrive', {});
    assert.deepEqual(redrive.json, { redriven: 1, ids: [id] });
    const again = await settled(id, 'succeeded');
    assert.equal(again.attempts, 1, 'a redriven event starts a new retry budget');
    assert.deepEqual(again.result, { key: 'd', run: 3 });
    assert.equal(again.history.length, 3, 'the earlier runs stay in its history');
    assert.deepEqual((await api.request('GET', '/v1/functions/doomed/dlq')).json.deadLetters, []);

    const second = await accept('doomed', { key: 'e', failTimes: 5 });
    await settled(second, 'failed');
    assert.equal((await api.request('GET', '/v1/functions/doomed/dlq')).json.deadLetters.length, 1);
    const purge = await api.request('DELETE', '/v1/functions/doomed/dlq');
    assert.deepEqual(purge.json, { purged: 1 });
    assert.deepEqual((await api.request('GET', '/v1/functions/doomed/dlq')).json.deadLetters, []);
  });
});

describe('destinations', () => {
  test('on-failure to another function: it receives the Lambda destination record', async () => {
    await deploy('orders');
    await deploy('failures', 'node-echo');
    const cfg = await api.request('PUT', '/v1/functions/orders/async-config', { retries: 0, onFailure: { type: 'function', name: 'failures' } });
    assert.equal(cfg.status, 200, cfg.text);
    const id = await accept('orders', { key: 'o', failTimes: 1 });
    const inv = await settled(id, 'failed');
    assert.equal(inv.destination.type, 'function');
    assert.equal(inv.destination.status, 'delivered');
    const delivered = await settled(inv.destination.eventId, 'succeeded');
    assert.equal(delivered.source, 'destination');
    const record = delivered.result;
    assert.equal(record.version, '1.0');
    assert.ok(!Number.isNaN(Date.parse(record.timestamp)));
    assert.deepEqual(record.requestContext, { requestId: id, functionArn: 'arn:aws:lambda:local:000000000000:function:orders:$LATEST', condition: 'RetriesExhausted', approximateInvokeCount: 1 });
    assert.deepEqual(record.requestPayload, { key: 'o', failTimes: 1 });
    assert.deepEqual(record.responseContext, { statusCode: 200, executedVersion: '1', functionError: 'Unhandled' });
    assert.equal(record.responsePayload.errorType, 'Error');
    assert.equal(record.responsePayload.errorMessage, 'failing run 1 of 1');
  });

  test('on-success webhook: the record is POSTed to it, and the delivery is recorded', async () => {
    await deploy('notify');
    await api.request('PUT', '/v1/functions/notify/async-config', { onSuccess: { type: 'webhook', url: `${collector.url}/hook` } });
    const id = await accept('notify', { key: 'n' });
    const inv = await settled(id, 'succeeded');
    assert.equal(inv.destination.status, 'delivered');
    assert.equal(inv.destination.attempts, 1);
    const hits = collector.on('/hook');
    assert.equal(hits.length, 1);
    assert.equal(hits[0]?.headers['content-type'], 'application/json');
    assert.equal(hits[0]?.headers['x-aviary-invocation-id'], id);
    const record = JSON.parse(hits[0]!.body);
    assert.equal(record.requestContext.condition, 'Success');
    assert.deepEqual(record.responseContext, { statusCode: 200, executedVersion: '1' });
    assert.deepEqual(record.responsePayload, { key: 'n', run: 1 });
  });

  test('on-failure to a topic: the record is published as a message of that topic', async () => {
    await deploy('billing');
    const created = await api.request('POST', '/v1/topics', { name: 'billing-failures' });
    assert.equal(created.status, 201, created.text);
    const cfg = await api.request('PUT', '/v1/functions/billing/async-config', { retries: 0, onFailure: { type: 'topic', name: 'billing-failures' } });
    assert.equal(cfg.status, 200, cfg.text);
    const id = await accept('billing', { key: 't', failTimes: 1 });
    const inv = await settled(id, 'failed');
    assert.deepEqual([inv.destination.type, inv.destination.target, inv.destination.status], ['topic', 'billing-failures', 'delivered']);
    const topic = await api.request('GET', '/v1/topics/billing-failures');
    assert.equal(topic.json.topic.messages, 1, topic.text);
  });

  test('a webhook that keeps failing is retried (bounded) and the failure recorded', async () => {
    await deploy('notify-bad');
    collector.status = (hit) => (hit.path === '/down' ? 503 : 200);
    await api.request('PUT', '/v1/functions/notify-bad/async-config', { onSuccess: { type: 'webhook', url: `${collector.url}/down` } });
    const id = await accept('notify-bad', { key: 'x' });
    const inv = await settled(id, 'succeeded');
    assert.deepEqual([inv.destination.status, inv.destination.attempts, inv.destination.error], ['failed', 2, 'the webhook answered 503']);
    assert.equal(collector.on('/down').length, 2);
  });
});

describe('async config', () => {
  test('defaults until set; PUT replaces, GET reads, DELETE restores the defaults', async () => {
    await deploy('configured');
    const fresh = await api.request('GET', '/v1/functions/configured/async-config');
    assert.deepEqual(fresh.json, { config: { retries: 2, maxEventAgeSeconds: 21600, onSuccess: null, onFailure: null }, default: true });
    const put = await api.request('PUT', '/v1/functions/configured/async-config', { retries: 5, maxEventAgeSeconds: 600, onSuccess: { type: 'webhook', url: 'https://example.com/x' } });
    assert.equal(put.status, 200, put.text);
    const got = await api.request('GET', '/v1/functions/configured/async-config');
    assert.deepEqual(got.json, { config: { retries: 5, maxEventAgeSeconds: 600, onSuccess: { type: 'webhook', url: 'https://example.com/x' }, onFailure: null }, default: false });
    assert.equal((await api.request('DELETE', '/v1/functions/configured/async-config')).status, 204);
    assert.equal((await api.request('GET', '/v1/functions/configured/async-config')).json.default, true);
  });

  test('bad inputs → 400 naming the field, and nothing changes', async () => {
    await deploy('strict');
    await api.request('PUT', '/v1/functions/strict/async-config', { retries: 1 });
    const bad = async (body: unknown, path: string) => expectError(await api.request('PUT', '/v1/functions/strict/async-config', body), 400, 'ValidationError', path);
    await bad({ retries: 11 }, 'retries');
    await bad({ retries: -1 }, 'retries');
    await bad({ maxEventAgeSeconds: 30 }, 'maxEventAgeSeconds');
    await bad({ maxEventAgeSeconds: 21_601 }, 'maxEventAgeSeconds');
    await bad({ retries: 1, colour: 'blue' }, 'colour');
    await bad({ onFailure: { type: 'function', name: 'no-such-function' } }, 'onFailure.name');
    await bad({ onSuccess: { type: 'function', name: 'strict' } }, 'onSuccess.name');
    await bad({ onSuccess: { type: 'webhook', url: 'not a url' } }, 'onSuccess.url');
    await bad({ onSuccess: { type: 'topic', name: 'no-such-topic' } }, 'onSuccess.name');
    await bad({ onSuccess: { type: 'topic', name: 'not a topic name!' } }, 'onSuccess.name');
    await bad({ onSuccess: { type: 'queue', name: 'orders' } }, 'onSuccess.type');
    await bad({ onSuccess: 'https://example.com' }, 'onSuccess');
    expectError(await api.request('PUT', '/v1/functions/strict/async-config', '[1', { 'content-type': 'application/json' }), 400, 'ValidationError');
    expectError(await api.request('PUT', '/v1/functions/missing/async-config', { retries: 1 }), 404, 'FunctionNotFound');
    assert.deepEqual((await api.request('GET', '/v1/functions/strict/async-config')).json.config.retries, 1, 'unchanged');
  });

  test('deleting a function deletes its queued events, dead letters and config', async () => {
    await deploy('gone');
    await api.request('PUT', '/v1/functions/gone/async-config', { retries: 0 });
    const id = await accept('gone', { key: 'g', failTimes: 1 });
    await settled(id, 'failed');
    assert.equal((await api.request('DELETE', '/v1/functions/gone')).status, 204);
    await waitFor(async () => (await api.request('GET', `/v1/invocations/${id}`)).status === 404, 5000);
    expectError(await api.request('GET', `/v1/invocations/${id}`), 404, 'NotFound');
    await deploy('gone');
    assert.equal((await api.request('GET', '/v1/functions/gone/async-config')).json.default, true);
    assert.deepEqual((await api.request('GET', '/v1/functions/gone/dlq')).json.deadLetters, []);
  });
});
