// The memory limit over a function's whole process tree (src/sandbox/process.ts, overMemory),
// through a real server and real sandboxes: children that share most of their pages (100
// `sleep`s, whose RSS alone sums far past 128 MB) do not get the function killed, while a child
// that really allocates does, with the limit named.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { TestApi } from '../helpers/api.ts';

let server: RunningServer;
let api: TestApi;

before(async () => {
  server = await startServer();
  api = new TestApi(server.url, server.adminKey);
});
after(async () => {
  await server?.stop();
});

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
