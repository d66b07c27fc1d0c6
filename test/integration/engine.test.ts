// The execution engine through a real server process: cold/warm instances, module formats,
// TypeScript, function failures (throw, exit, timeout, memory, also over child processes, unhandled rejection), payload
// limits, per-function concurrency and max instances.
// Deploy/validation: engine-deploy.test.ts; env, isolation, logs: engine-sandbox.test.ts;
// HTTP routes: engine-routes.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, type DeployConfig, type InvokeBody } from '../helpers/api.ts';

let server: RunningServer;
let api: TestApi;

before(async () => {
  server = await startServer();
  api = new TestApi(server.url, server.adminKey);
});
after(async () => {
  await server?.stop();
});

/** Deploys a fixture folder and asserts the deploy succeeded. */
async function deploy(name: string, fixtureName: string, config: DeployConfig = {}): Promise<void> {
  const r = await api.deployDir(name, fixture(fixtureName), { handler: 'index.handler', ...config });
  assert.equal(r.status, 201, `deploy ${name} from ${fixtureName}: ${r.text}\n${server.output()}`);
}

/** Invokes and asserts the HTTP call itself succeeded (the function may still have failed). */
async function invoke(ref: string, event: unknown = {}, log = false): Promise<InvokeBody> {
  const r = await api.invoke(ref, event, { log });
  assert.equal(r.status, 200, `invoke ${ref}: ${r.text}`);
  return r.json;
}

function succeeded(body: InvokeBody): any {
  assert.equal(body.status, 'succeeded', `expected success, got ${JSON.stringify(body.error)}`);
  return body.result;
}

function failed(body: InvokeBody): NonNullable<InvokeBody['error']> {
  assert.equal(body.status, 'failed', `expected a failure, got ${JSON.stringify(body.result)?.slice(0, 200)}`);
  assert.ok(body.error, 'a failed invocation carries an error');
  return body.error;
}

async function instances(name: string): Promise<{ live: number; idle: number; busy: number; waiting: number }> {
  const r = await api.request('GET', `/v1/functions/${name}`);
  assert.equal(r.status, 200, r.text);
  return r.json.instances;
}

describe('cold and warm instances', () => {
  test('node: first invoke is cold, the second warm on the same instance (module state survives)', async () => {
    await deploy('node-counter', 'node-counter');
    const first = await invoke('node-counter');
    assert.deepEqual(succeeded(first), { count: 1 });
    assert.equal(first.cold, true);
    const second = await invoke('node-counter');
    assert.deepEqual(succeeded(second), { count: 2 });
    assert.equal(second.cold, false);
  });

  test('python: the same', async () => {
    await deploy('py-counter', 'python-counter', { runtime: 'python', handler: 'app.handler' });
    const first = await invoke('py-counter');
    assert.deepEqual(succeeded(first), { count: 1 });
    assert.equal(first.cold, true);
    const second = await invoke('py-counter');
    assert.deepEqual(succeeded(second), { count: 2 });
    assert.equal(second.cold, false);
  });
});

describe('module formats and handler shapes', () => {
  const cases: { fixture: string; handler?: string; event: unknown; expect: unknown }[] = [
    { fixture: 'node-cjs', event: { a: 1 }, expect: { format: 'cjs', echo: { a: 1 } } },
    { fixture: 'node-esm', event: { a: 2 }, expect: { format: 'esm-mjs', echo: { a: 2 } } },
    { fixture: 'node-type-module', event: { a: 3 }, expect: { format: 'esm-type-module', echo: { a: 3 }, loadedAt: 'top-level await works' } },
    { fixture: 'node-cjs-ext', event: { a: 4 }, expect: { format: 'cjs-ext', echo: { a: 4 } } },
    { fixture: 'node-callback', event: { value: 7 }, expect: { style: 'callback', value: 7 } },
    { fixture: 'node-deps', event: { value: 42 }, expect: { padded: '00042' } },
    { fixture: 'node-subdir', handler: 'src/app.handler', event: {}, expect: { file: 'src/app.mjs' } },
  ];
  for (const c of cases) {
    test(`${c.fixture} deploys and runs`, async () => {
      await deploy(c.fixture, c.fixture, c.handler ? { handler: c.handler } : {});
      const result = succeeded(await invoke(c.fixture, c.event));
      if (c.fixture === 'node-cjs') delete result.requestId;
      assert.deepEqual(result, c.expect);
    });
  }
});

describe('callbackWaitsForEmptyEventLoop (callback handlers), as on Lambda', () => {
  test('true (the default): the result is sent once the work left on the event loop is done', async () => {
    await deploy('cb-wait', 'node-callback-wait');
    const started = Date.now();
    const first = succeeded(await invoke('cb-wait', { delayMs: 400 }));
    assert.ok(Date.now() - started >= 380, `answered after ${Date.now() - started} ms, before its 400 ms timer`);
    assert.equal(first.previousDone, null);
    // the timer had fired before the next invocation started
    assert.equal(succeeded(await invoke('cb-wait', { delayMs: 0 })).previousDone, true);
  });

  test('false: the result is sent at once; the timer keeps running on the instance', async () => {
    await deploy('cb-nowait', 'node-callback-wait');
    succeeded(await invoke('cb-nowait', { noWait: true, delayMs: 0 })); // warm
    // let the warm-up's 0 ms timer fire: the next invoke can arrive within the millisecond
    // before it would, and then that timer, not the next one's, would set the flag
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    succeeded(await invoke('cb-nowait', { noWait: true, delayMs: 1500 }));
    assert.ok(Date.now() - started < 1000, `answered after ${Date.now() - started} ms`);
    assert.equal(succeeded(await invoke('cb-nowait', { noWait: true })).previousDone, false, 'the earlier timer had not fired yet');
  });

  test('a loop that never empties ends in the timeout (the classic open-connection case); the next invoke works', async () => {
    await deploy('cb-interval', 'node-callback-wait', { timeout: 1 });
    const r = await invoke('cb-interval', { interval: true });
    assert.equal(r.status, 'failed');
    assert.equal(r.error?.errorType, 'Sandbox.Timedout');
    succeeded(await invoke('cb-interval', { noWait: true, delayMs: 0 }));
  });
});

describe('TypeScript', () => {
  test('a package of two .ts files builds and runs; a thrown typed error is source-mapped to the .ts line', async () => {
    await deploy('ts-fn', 'node-typescript');
    assert.deepEqual(succeeded(await invoke('ts-fn', { name: 'ts' })), { message: 'hello ts', language: 'typescript' });

    const error = failed(await invoke('ts-fn', { fail: true }));
    assert.equal(error.errorType, 'InputError');
    assert.equal(error.errorMessage, 'fail was requested');
    const helperLines = readFileSync(path.join(fixture('node-typescript'), 'helper.ts'), 'utf8').split('\n');
    const throwLine = helperLines.findIndex((l) => l.includes('throw new InputError')) + 1;
    const trace = (error.trace ?? []).join('\n');
    assert.match(trace, new RegExp(`helper\\.ts:${throwLine}\\b`), `trace should point at helper.ts:${throwLine}:\n${trace}`);
  });
});

describe('function failures', () => {
  test('a node handler that throws → failed with errorType, errorMessage and trace', async () => {
    await deploy('thrower', 'node-throw');
    const error = failed(await invoke('thrower', { kind: 'error' }));
    assert.equal(error.errorType, 'TypeError');
    assert.equal(error.errorMessage, 'boom');
    assert.ok(Array.isArray(error.trace) && error.trace.length > 0, JSON.stringify(error));
    assert.match(error.trace.join('\n'), /index\.js:\d+/);
  });

  test('a python exception → failed with stackTrace naming both frames', async () => {
    await deploy('py-thrower', 'python-throw', { runtime: 'python', handler: 'app.handler' });
    const error = failed(await invoke('py-thrower', { value: 3 }));
    assert.equal(error.errorType, 'ValueError');
    assert.equal(error.errorMessage, 'bad value: 3');
    assert.ok(Array.isArray(error.stackTrace) && error.stackTrace.length >= 2, JSON.stringify(error));
    const st = error.stackTrace.join('\n');
    assert.match(st, /app\.py/);
    assert.match(st, /check/);
  });

  test('process.exit(3) → Runtime.ExitError "exit status 3"; the next invoke runs on a fresh instance', async () => {
    await deploy('exiter', 'node-crash-on-demand');
    assert.deepEqual(succeeded(await invoke('exiter')), { count: 1 });
    const error = failed(await invoke('exiter', { crash: 'exit', code: 3 }));
    assert.equal(error.errorType, 'Runtime.ExitError');
    assert.match(error.errorMessage, /exit status 3/);
    const next = await invoke('exiter');
    assert.deepEqual(succeeded(next), { count: 1 });
    assert.equal(next.cold, true);
  });

  test('each invocation on a warm instance gets its whole timeout, counted from its own start', async () => {
    await deploy('sleeper', 'node-sleep', { timeout: 1 });
    succeeded(await invoke('sleeper')); // the instance's timeout timer starts with this one
    await new Promise((r) => setTimeout(r, 600));
    // runs past the moment the first invocation's timeout would have ended (400 ms into it)
    const second = succeeded(await invoke('sleeper', { ms: 700 }));
    assert.ok(second.finishedAt - second.startedAt >= 700);
    const started = Date.now();
    const error = failed(await invoke('sleeper', { ms: 5000 }));
    const elapsed = Date.now() - started;
    assert.equal(error.errorType, 'Sandbox.Timedout');
    assert.ok(elapsed >= 1000 && elapsed < 5000, `timed out after ${elapsed} ms`);
  });

  test('a handler looping past timeout: 1 → Sandbox.Timedout after 1.00 s; the next version works', async () => {
    await deploy('spinner', 'node-spin', { timeout: 1 });
    const started = Date.now();
    const error = failed(await invoke('spinner'));
    const elapsed = Date.now() - started;
    assert.equal(error.errorType, 'Sandbox.Timedout');
    assert.match(error.errorMessage, /1\.00 seconds/);
    assert.ok(elapsed < 5000, `the timeout answer took ${elapsed} ms`);
    await deploy('spinner', 'node-counter', { timeout: 1 });
    const next = await invoke('spinner');
    assert.equal(next.version, 2);
    assert.deepEqual(succeeded(next), { count: 1 });
  });

  test('a handler allocating without bound at 128 MB → Runtime.OutOfMemory naming 128 MB; the server stays up', async () => {
    await deploy('hog', 'node-memory-hog', { memory: 128, timeout: 30 });
    const started = Date.now();
    const error = failed(await invoke('hog'));
    assert.equal(error.errorType, 'Runtime.OutOfMemory', JSON.stringify(error));
    assert.match(error.errorMessage, /128 MB/);
    assert.ok(Date.now() - started < 25_000, 'killed for memory, not by the timeout');
    const health = await api.request('GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    await deploy('after-hog', 'node-counter');
    assert.deepEqual(succeeded(await invoke('after-hog')), { count: 1 });
  });

  test('module scope that never finishes → Sandbox.Timedout after the 10 s init limit; the server stays up', async () => {
    await deploy('init-hangs', 'node-init-hangs');
    const r = await invoke('init-hangs');
    assert.equal(r.status, 'failed');
    assert.equal(r.error?.errorType, 'Sandbox.Timedout');
    assert.match(r.error?.errorMessage ?? '', /^init timed out after 10\.00 seconds: .*move slow work into the handler/);
    assert.equal((await api.request('GET', '/healthz')).status, 200);
  });

  test('an unhandled rejection fails that invocation; the next invoke works', async () => {
    await deploy('rejecter', 'node-crash-on-demand', { timeout: 10 });
    const started = Date.now();
    const error = failed(await invoke('rejecter', { crash: 'reject' }));
    assert.equal(error.errorType, 'Runtime.UnhandledPromiseRejection');
    assert.match(error.errorMessage, /nobody handles me/);
    assert.ok(Date.now() - started < 4000, 'answered at the rejection, not when the handler would have returned');
    assert.deepEqual(succeeded(await invoke('rejecter')), { count: 1 });
  });
});

describe('payload limits', () => {
  const LIMIT = 6 * 1024 * 1024;

  test('an event of 6 MB + 1 byte → 413 PayloadTooLarge naming the limit', async () => {
    await deploy('echo', 'node-echo');
    const r = await postAnnounced(`/v1/functions/echo/invocations`, `"${'x'.repeat(LIMIT + 1 - 2)}"`);
    assert.equal(r.status, 413, r.text.slice(0, 500));
    const json = JSON.parse(r.text);
    assert.equal(json.error?.code, 'PayloadTooLarge', r.text);
    assert.match(json.error.message, /6 ?MB|6291456|6,291,456/, 'the message names the limit');
    // exactly at the limit is accepted
    const atLimit = await api.invoke('echo', `"${'x'.repeat(LIMIT - 2)}"`);
    assert.equal(atLimit.status, 200);
    assert.equal(atLimit.json.status, 'succeeded', JSON.stringify(atLimit.json.error));
  });

  test('a result over 6 MB → failed with Function.ResponseSizeTooLarge', async () => {
    await deploy('big-result', 'node-big-result');
    const error = failed(await invoke('big-result', { bytes: 7 * 1024 * 1024 }));
    assert.equal(error.errorType, 'Function.ResponseSizeTooLarge');
    assert.deepEqual(succeeded(await invoke('big-result', { bytes: 10 })), 'x'.repeat(10));
  });
});

/**
 * POSTs `body` with its Content-Length, but sends the body only if no answer came from the
 * headers alone within 2 s: a server that rejects on Content-Length and closes the connection
 * makes a client that is still writing see EPIPE/ECONNRESET instead of the answer (reported
 * separately), and this test is about the answer.
 */
function postAnnounced(urlPath: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(server.url + urlPath, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      clearTimeout(timer);
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    let answered = false;
    req.on('response', () => (answered = true));
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.flushHeaders();
    const timer = setTimeout(() => req.end(body), 2000);
  });
}

describe('concurrency', () => {
  test('a slow function does not delay another function', async () => {
    await deploy('slow', 'node-sleep', { timeout: 10 });
    await deploy('fast', 'node-sleep');
    succeeded(await invoke('slow', { ms: 0 }));
    succeeded(await invoke('fast', { ms: 0 }));
    const slow = invoke('slow', { ms: 1500 });
    let running = false;
    for (let i = 0; i < 100 && !running; i++) {
      running = (await instances('slow')).busy === 1;
      if (!running) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(running, 'the slow invocation should be running');
    const fastStart = Date.now();
    for (let i = 0; i < 20; i++) succeeded(await invoke('fast', { ms: 0 }));
    const fastDone = Date.now();
    const slowResult = succeeded(await slow);
    assert.ok(fastDone - fastStart < 1000, `20 warm invokes of fast took ${fastDone - fastStart} ms`);
    assert.ok(fastDone < slowResult.finishedAt, `fast finished at ${fastDone}, slow at ${slowResult.finishedAt}: fast waited for slow`);
  });

  test('maxInstances: 1 queues concurrent invokes on one instance', async () => {
    await deploy('single', 'node-sleep', { maxInstances: 1, timeout: 10 });
    let maxLive = 0;
    let sawWaiting = false;
    let done = false;
    const watcher = (async () => {
      while (!done) {
        const s = await instances('single');
        maxLive = Math.max(maxLive, s.live, s.busy + s.idle);
        if (s.waiting > 0) sawWaiting = true;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const bodies = await Promise.all([1, 2, 3].map(() => invoke('single', { ms: 300 })));
    done = true;
    await watcher;
    const results = bodies.map((b) => succeeded(b) as { startedAt: number; finishedAt: number });
    assert.equal(maxLive, 1, `instances of single reached ${maxLive}`);
    assert.ok(sawWaiting, 'requests should have waited in the queue');
    results.sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 1; i < results.length; i++) {
      assert.ok(results[i]!.startedAt >= results[i - 1]!.finishedAt, `invocations overlapped: ${JSON.stringify(results)}`);
    }
  });

  test('at its limit: past 100 waiting requests → 429 at once; waiting past 10 s + the timeout → 429; then it serves again', async () => {
    // each invocation hangs until its 1 s timeout, so the line moves one request a second
    await deploy('jammed', 'node-sleep', { maxInstances: 1, timeout: 1 });
    const started = Date.now();
    const calls = Array.from({ length: 102 }, async () => {
      const r = await api.invoke('jammed', { ms: 5000 });
      return { ...r, at: Date.now() - started };
    });
    const answers = await Promise.all(calls);
    // a 429 is an API error ({"error":{"code","message"}}), not an invocation's body
    const message = (a: { json: unknown }): string => (a.json as { error?: { message?: string } }).error?.message ?? '';
    const full = answers.filter((a) => a.status === 429 && /100 requests are already waiting/.test(message(a)));
    const expired = answers.filter((a) => a.status === 429 && /stayed at its limit/.test(message(a)));
    const timedOut = answers.filter((a) => a.status === 200 && a.json.error?.errorType === 'Sandbox.Timedout');
    assert.equal(full.length, 1, JSON.stringify(answers.map((a) => [a.status, a.text.slice(0, 120)])));
    assert.equal(message(full[0]!),
      'function jammed is at its limit of 1 concurrent instances and 100 requests are already waiting; retry later or deploy with a larger --max-instances');
    assert.equal(full[0]!.headers.get('retry-after'), '1');
    assert.ok(full[0]!.at < 1000, `the request over the queue limit waited ${full[0]!.at} ms`);
    assert.equal(full.length + expired.length + timedOut.length, 102, JSON.stringify(answers.map((a) => [a.status, a.text.slice(0, 120)])));
    // about one served per second until the waiting limit (10 s + 1 s timeout) ran out for the rest
    assert.ok(timedOut.length >= 5 && timedOut.length <= 12, `${timedOut.length} requests were served`);
    assert.equal(message(expired[0]!),
      'function jammed stayed at its limit of 1 concurrent instances for 11 s; retry later or deploy with a larger --max-instances');
    for (const a of expired) assert.ok(a.at >= 10_900 && a.at < 14_000, `a request gave up after ${a.at} ms`);
    // nothing is left waiting, and the function serves the next request
    assert.equal((await instances('jammed')).waiting, 0);
    assert.equal(failed(await invoke('jammed', { ms: 2000 })).errorType, 'Sandbox.Timedout');
    assert.ok(succeeded(await invoke('jammed', { ms: 0 })).finishedAt > 0);
  });
});

// The memory limit over a function's whole process tree (src/sandbox/process.ts, overMemory):
// children that share most of their pages do not get the function killed; a child that
// really allocates does.
/**
 * Starts `n` sleeping children, then stays 1.5 s (the watchdog looks every 50 ms, precisely at
 * most once a second) and reports the RSS of its tree as /proc shows it, summed per process.
 */
const SLEEPERS = `const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const rss = (pid) => Number(readFileSync('/proc/' + pid + '/statm', 'utf8').split(' ')[1]) * 4096;
exports.handler = async (event) => {
  const kids = [];
  for (let i = 0; i < event.n; i++) {
    const child = spawn('sleep', ['20'], { stdio: 'ignore' });
    await new Promise((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
    kids.push(child);
  }
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const rssSumMB = Math.round((rss(process.pid) + kids.reduce((sum, k) => sum + rss(k.pid), 0)) / 1048576);
  for (const child of kids) child.kill('SIGKILL');
  return { started: kids.length, rssSumMB };
};
`;

/** A child process that allocates without bound; the handler waits for it. */
const HUNGRY_CHILD = `const { spawn } = require('node:child_process');
const HOG = 'const hoard = []; setInterval(() => hoard.push(Buffer.alloc(8 * 1024 * 1024, 1)), 5);';
exports.handler = async () => {
  const child = spawn(process.execPath, ['-e', HOG], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return 'the child ended on its own';
};
`;

describe('memory limit over the process tree', () => {
  test('100 sleeping children at 128 MB: their RSS sums past the limit, their own memory does not; the function succeeds', async () => {
    const r = await api.deployFiles('sleepers', [{ name: 'index.js', content: SLEEPERS }], { handler: 'index.handler', memory: 128, timeout: 30 });
    assert.equal(r.status, 201, r.text);
    const res = await api.invoke('sleepers', { n: 100 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, 'succeeded', JSON.stringify(res.json.error));
    const result = res.json.result as { started: number; rssSumMB: number };
    assert.equal(result.started, 100);
    assert.ok(result.rssSumMB > 128, `the RSS sum (${result.rssSumMB} MB) should exceed the limit, or this test proves nothing`);
  });

  test('a child that allocates without bound at 128 MB → Runtime.OutOfMemory naming 128 MB; the server stays up', async () => {
    const r = await api.deployFiles('hungry-child', [{ name: 'index.js', content: HUNGRY_CHILD }], { handler: 'index.handler', memory: 128, timeout: 30 });
    assert.equal(r.status, 201, r.text);
    const started = Date.now();
    const res = await api.invoke('hungry-child', {});
    assert.equal(res.json.status, 'failed', JSON.stringify(res.json));
    assert.equal(res.json.error?.errorType, 'Runtime.OutOfMemory', JSON.stringify(res.json.error));
    assert.match(res.json.error?.errorMessage ?? '', /memory limit of 128 MB exceeded/);
    assert.ok(Date.now() - started < 25_000, 'killed for memory, not by the timeout');
    assert.equal((await api.request('GET', '/healthz')).status, 200);
  });
});
