import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli, startServer, type CliResult, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, waitFor } from '../helpers/api.ts';

/** The async commands (`invoke --async`, `invocations`, `invocation`, `dlq`, `async-config`) against a real server. */
describe('aviary CLI: asynchronous invocations', { timeout: 120_000 }, () => {
  let server: RunningServer;
  let api: TestApi;
  let env: Record<string, string>;

  const cli = (args: string[]): Promise<CliResult> => runCli(args, { env });
  const ok = (r: CliResult): CliResult => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const statusOf = async (id: string): Promise<string | undefined> => (await api.request('GET', `/v1/invocations/${id}`)).json?.invocation?.status;
  const until = async (id: string, status: string) => assert.ok(await waitFor(async () => (await statusOf(id)) === status, 15_000, 50), `${id} never ${status}`);

  before(async () => {
    server = await startServer({ env: { AVIARY_ASYNC_RETRY_BASE_MS: '20', AVIARY_ASYNC_RETRY_CAP_MS: '50', AVIARY_ASYNC_POLL_MS: '100' } });
    api = new TestApi(server.url, server.adminKey);
    env = { AVIARY_URL: server.url, AVIARY_API_KEY: server.adminKey };
    for (const [name, dir] of [['job', 'node-async'], ['sink', 'node-echo']] as const) {
      const r = await api.deployDir(name, fixture(dir), { handler: 'index.handler', maxInstances: 1 });
      assert.equal(r.status, 201, r.text);
    }
  });
  after(async () => {
    await server?.stop();
  });

  test('invoke --async queues and prints the id; invocation and invocations show it', async () => {
    const r = ok(await cli(['invoke', 'job', '--async', '--data', '{"key":"a"}']));
    const m = /^Queued job: ([0-9a-f-]{36})\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const id = m[1]!;
    assert.match(r.stderr, new RegExp(`Follow it: aviary invocation ${id}`));
    await until(id, 'succeeded');
    const show = ok(await cli(['invocation', id]));
    assert.match(show.stdout, /^Invocation +[0-9a-f-]{36}\n/);
    assert.match(show.stdout, /\nStatus +succeeded\n/);
    assert.match(show.stdout, /\nAttempts +1\n/);
    assert.match(show.stdout, /\nLogs +aviary logs job --invocation [0-9a-f-]{36}\n/);
    assert.match(show.stdout, /\nResult\n\{\n {2}"key": "a",\n {2}"run": 1\n\}\n$/);
    const list = ok(await cli(['invocations', 'job', '--status', 'succeeded']));
    assert.match(list.stdout, /^ID +STATUS +ATTEMPTS +SOURCE +QUEUED +DURATION +ERROR\n/);
    assert.match(list.stdout, new RegExp(`${id} +succeeded +1 +api `));
    const json = JSON.parse(ok(await cli(['invocation', id, '--json'])).stdout);
    assert.deepEqual(json.invocation.result, { key: 'a', run: 1 });
  });

  test('--idempotency-key: the second call names the first invocation', async () => {
    const first = ok(await cli(['invoke', 'job', '--async', '--idempotency-key', 'order-1', '--data', '{"key":"b"}']));
    const id = /Queued job: (\S+)/.exec(first.stdout)?.[1];
    const second = ok(await cli(['invoke', 'job', '--async', '--idempotency-key', 'order-1', '--data', '{"key":"b"}']));
    assert.match(second.stdout, new RegExp(`^Already queued with idempotency key order-1: ${id} \\((queued|running|succeeded)\\)\n$`));
  });

  test('usage errors exit 2 before contacting the server', async () => {
    const key = await cli(['invoke', 'job', '--idempotency-key', 'k']);
    assert.equal(key.code, 2);
    assert.match(key.stderr, /--idempotency-key applies to asynchronous invocations: add --async/);
    assert.equal((await cli(['invoke', 'job', '--async', '--log'])).code, 2);
    const status = await cli(['invocations', 'job', '--status', 'done']);
    assert.equal(status.code, 2);
    assert.match(status.stderr, /Expected one of queued, running, succeeded, failed/);
    const dest = await cli(['async-config', 'set', 'job', '--on-success', 'queue:orders']);
    assert.equal(dest.code, 2);
    assert.match(dest.stderr, /Expected function:NAME, topic:NAME, webhook:https:\/\/… or none/);
    assert.equal((await cli(['async-config', 'set', 'job', '--retries', '11'])).code, 2);
    assert.equal((await cli(['async-config', 'set', 'job'])).code, 2);
  });

  test('async-config set merges, get shows, server errors name the field, delete restores defaults', async () => {
    const set = ok(await cli(['async-config', 'set', 'job', '--retries', '0', '--on-failure', 'function:sink']));
    assert.match(set.stdout, /^Function +job\nRetries +0\nMax event age +21600 s\nOn success +-\nOn failure +function sink\n$/);
    const merged = ok(await cli(['async-config', 'set', 'job', '--max-age', '600']));
    assert.match(merged.stdout, /\nRetries +0\nMax event age +600 s\n/, 'unchanged settings keep their values');
    const bad = await cli(['async-config', 'set', 'job', '--on-success', 'function:nobody']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /onSuccess\.name: function nobody does not exist/);
    assert.match(ok(await cli(['async-config', 'get', 'job'])).stdout, /On failure +function sink/);
  });

  test('dlq list, show, redrive and purge', async () => {
    // retries 0 (set above): one failed run dead-letters it
    const id = /Queued job: (\S+)/.exec(ok(await cli(['invoke', 'job', '--async', '--data', '{"key":"c","failTimes":1}'])).stdout)?.[1] ?? '';
    await until(id, 'failed');
    const failed = ok(await cli(['invocation', id]));
    assert.match(failed.stdout, /\nStatus +failed \(RetriesExhausted\)\n/);
    assert.match(failed.stdout, /\nDestination +function sink: delivered → [0-9a-f-]{36}\n/);
    assert.match(failed.stdout, /\nError +Error: failing run 1 of 1\n/);
    const list = ok(await cli(['dlq', 'list', 'job']));
    assert.match(list.stdout, new RegExp(`${id} +RetriesExhausted +1 `));
    const show = ok(await cli(['dlq', 'show', 'job', id]));
    assert.match(show.stdout, /"failTimes": 1/);
    const redrive = ok(await cli(['dlq', 'redrive', 'job']));
    assert.equal(redrive.stdout, 'Redrove 1 event of job; follow them with: aviary invocations job\n');
    await until(id, 'succeeded');
    assert.match(ok(await cli(['dlq', 'list', 'job'])).stderr, /The dead-letter queue of job is empty/);
    const again = /Queued job: (\S+)/.exec(ok(await cli(['invoke', 'job', '--async', '--data', '{"key":"d","failTimes":1}'])).stdout)?.[1] ?? '';
    await until(again, 'failed');
    assert.equal(ok(await cli(['dlq', 'purge', 'job'])).stdout, 'Purged 1 dead letter of job\n');
    const unknown = await cli(['dlq', 'redrive', 'job', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /job has no dead letter nope/);
    ok(await cli(['async-config', 'delete', 'job']));
    assert.match(ok(await cli(['async-config', 'get', 'job'])).stdout, /^Function +job \(defaults\)\nRetries +2\n/);
  });
});
