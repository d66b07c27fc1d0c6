import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, runCli, startServer, type CliResult, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/api.ts';

/** `aviary topic …` and `aviary trigger …` against a real server, as a user types them. */

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'functions');

describe('aviary topic and trigger commands', { timeout: 180_000 }, () => {
  let server: RunningServer;
  let env: Record<string, string>;
  const cli = (args: string[], input?: string): Promise<CliResult> => runCli(args, input === undefined ? { env } : { env, input });
  const ok = (r: CliResult): CliResult => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\nserver:\n${server.output().slice(-3000)}`);
    return r;
  };

  before(async () => {
    server = await startServer();
    env = { AVIARY_URL: server.url, AVIARY_API_KEY: server.adminKey };
    ok(await cli(['deploy', 'process-order', path.join(FIXTURES, 'node-queue-recorder'), '--runtime', 'node', '--handler', 'index.handler']));
  });
  after(async () => {
    await server?.stop();
  });

  test('create a topic, bind a trigger, publish, and see it processed', async () => {
    assert.match(ok(await cli(['topic', 'create', 'orders'])).stdout, /^Created topic orders\n/);
    const add = ok(await cli(['trigger', 'add', 'orders-in', 'process-order', '--source', 'topic', '--topic', 'orders', '--batch', '5', '--window', '100']));
    assert.match(add.stdout, /Added trigger orders-in: topic orders → process-order \(batch 5, concurrency 2, retries 3\)/);
    assert.match(ok(await cli(['topic', 'publish', 'orders', '{"id":42}'])).stdout, /^Published message [0-9a-f-]{36} to orders\n/);
    ok(await cli(['topic', 'publish', 'orders'], 'from stdin'));
    const processed = await waitFor(async () => /orders-in\s+process-order\s+topic orders\s+healthy\s+2\s/.test((await cli(['trigger', 'list'])).stdout), 15_000, 200);
    assert.ok(processed, (await cli(['trigger', 'list'])).stdout);
    const logs = ok(await cli(['logs', 'process-order']));
    assert.match(logs.stdout, /"body":"\{\\"id\\":42\}"/);
    assert.match(logs.stdout, /"body":"from stdin"/);
    const topics = ok(await cli(['topic', 'list']));
    assert.match(topics.stdout, /NAME\s+MESSAGES\s+IN FLIGHT\s+CREATED\norders\s+0\s+0\s/);
    const get = ok(await cli(['trigger', 'get', 'orders-in']));
    assert.match(get.stdout, /status\s+healthy/);
    assert.match(get.stdout, /processed\s+2 ok, 0 retried/);
    const json = JSON.parse(ok(await cli(['trigger', 'list', '--json'])).stdout);
    assert.equal(json.triggers[0].health.succeeded, 2);
    assert.match(ok(await cli(['trigger', 'pause', 'orders-in'])).stdout, /Paused trigger orders-in \(paused\)/);
    assert.match(ok(await cli(['trigger', 'resume', 'orders-in'])).stdout, /Resumed trigger orders-in/);
  });

  test('a trigger whose broker is unreachable is listed unhealthy with its last error', async () => {
    const port = await deadPort();
    ok(await cli(['trigger', 'add', 'sensors-in', 'process-order', '--source', 'nats', '--subject', 'sensors.>', '--broker', `nats://127.0.0.1:${port}`]));
    let out = '';
    const shown = await waitFor(async () => /sensors-in\s+process-order\s+nats sensors\.>\s+unhealthy\s.*cannot connect to NATS/.test(out = (await cli(['trigger', 'list'])).stdout), 15_000, 200);
    assert.ok(shown, out);
    assert.match(ok(await cli(['trigger', 'get', 'sensors-in'])).stdout, new RegExp(`last error\\s+cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}`));
    assert.match(ok(await cli(['trigger', 'delete', 'sensors-in'])).stdout, /^Deleted trigger sensors-in\n/);
  });

  test('bad input: the server names the problem; usage errors exit 2 before anything is sent', async () => {
    const url = await cli(['trigger', 'add', 'bad', 'process-order', '--source', 'nats', '--subject', 'a.>', '--broker', 'nats://127.0.0.1:99999']);
    assert.equal(url.code, 1);
    assert.match(url.stderr, /url: has port 99999; ports are 1-65535/);
    const fn = await cli(['trigger', 'add', 'bad', 'no-such-fn', '--source', 'topic', '--topic', 'orders']);
    assert.equal(fn.code, 1);
    assert.match(fn.stderr, /function: function no-such-fn does not exist/);
    const usage = await cli(['trigger', 'add', 'bad', 'process-order', '--source', 'nats']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--source nats needs --subject/);
    const range = await cli(['trigger', 'add', 'bad', 'process-order', '--source', 'topic', '--topic', 'orders', '--batch', '0']);
    assert.equal(range.code, 2);
    const inUse = await cli(['topic', 'delete', 'orders']);
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /used by trigger orders-in/);
    assert.equal((await cli(['trigger', 'get', 'nope'])).code, 1);
    ok(await cli(['trigger', 'delete', 'orders-in']));
    ok(await cli(['topic', 'delete', 'orders']));
    assert.match(ok(await cli(['trigger', 'list'])).stderr, /No triggers yet/);
  });
});

async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
