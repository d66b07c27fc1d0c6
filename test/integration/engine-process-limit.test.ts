// The per-instance process limit (src/sandbox/cgroups.ts), through a real server process started
// with --max-processes 64: a function that starts processes in a loop gets EAGAIN at the limit,
// a bash fork bomb is held inside its instance until the timeout ends it, the server and other
// functions carry on, and the cgroups are removed once their processes are gone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { TestApi } from '../helpers/api.ts';
import { locatePidsCgroup } from '../../src/sandbox/cgroups.ts';

const LIMIT = 64;
let server: RunningServer;
let api: TestApi;
/** `<our pids cgroup>/aviary-<server pid>`: the server runs in the test's cgroup, as its child. */
let base: string;

/** Root can always create cgroups where a pids hierarchy is mounted (this project's CI does). */
const expectLimit = process.getuid?.() === 0 && !('reason' in locatePidsCgroup(readFileSync('/proc/self/cgroup', 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8')));

before(async () => {
  server = await startServer({ args: ['--max-processes', String(LIMIT)] });
  api = new TestApi(server.url, server.adminKey);
  const own = locatePidsCgroup(readFileSync('/proc/self/cgroup', 'utf8'), readFileSync('/proc/self/mountinfo', 'utf8'));
  base = 'dir' in own ? path.join(own.dir, `aviary-${server.pid}`) : '';
});
after(async () => {
  await server?.stop();
});

/** The instances' cgroups now: pids in each, and how often a fork was refused at the limit. */
function instanceCgroups(): { name: string; pids: number; refused: number }[] {
  if (!existsSync(base)) return [];
  return readdirSync(base, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => {
    const dir = path.join(base, e.name);
    const read = (f: string): string => { try { return readFileSync(path.join(dir, f), 'utf8'); } catch { return ''; } };
    return { name: e.name, pids: Number(read('pids.current')), refused: Number(/^max (\d+)/m.exec(read('pids.events'))?.[1] ?? 0) };
  });
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const SPAWNER = `const { spawn } = require('node:child_process');
exports.handler = async (event) => {
  const kids = [];
  let error = null;
  for (let i = 0; i < event.n; i++) {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const err = await new Promise((resolve) => { child.once('spawn', () => resolve(null)); child.once('error', resolve); });
    if (err) { error = err.code; break; }
    kids.push(child);
  }
  for (const child of kids) child.kill('SIGKILL');
  return { started: kids.length, error };
};
`;

/** A custom runtime that takes one invocation, then forks without end and never answers. */
const FORK_BOMB = `#!/bin/bash
curl -sS -o /dev/null "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next"
bomb() { bomb | bomb & }
bomb
sleep 600
`;

describe('processes per instance', () => {
  test('the server reports the limit it enforces', async (t) => {
    const health = await api.request('GET', '/healthz');
    assert.equal(health.status, 200);
    if (!expectLimit) {
      assert.equal(health.json.processLimit, null);
      assert.match(server.output(), /the number of processes and threads of an instance is not limited/);
      t.skip('no writable pids cgroup for this user: the server runs without the limit and says so');
      return;
    }
    assert.equal(health.json.processLimit, LIMIT, server.output());
    assert.match(server.output(), new RegExp(`processes per instance: at most ${LIMIT}`));
  });

  test('a function starting processes in a loop gets EAGAIN at the limit, and its instance keeps serving', { skip: !expectLimit && 'no writable pids cgroup' }, async () => {
    const r = await api.deployFiles('spawner', [{ name: 'index.js', content: SPAWNER }], { handler: 'index.handler', memory: 1024, timeout: 60 });
    assert.equal(r.status, 201, r.text);
    const first = await api.invoke('spawner', { n: 200 });
    assert.equal(first.status, 200, first.text);
    const result = first.json.result as { started: number; error: string | null };
    assert.equal(result.error, 'EAGAIN', JSON.stringify(first.json));
    assert.ok(result.started > 0 && result.started < LIMIT, `started ${result.started} processes, limit ${LIMIT}`);
    assert.ok(instanceCgroups().some((c) => c.refused > 0), JSON.stringify(instanceCgroups()));
    // the children were killed: the same instance (warm) can start processes again
    const again = await api.invoke('spawner', { n: 5 });
    assert.equal(again.json.cold, false);
    assert.deepEqual(again.json.result, { started: 5, error: null });
  });

  test('a bash fork bomb stays inside its instance until the timeout ends it; the server and other functions carry on', { skip: !expectLimit && 'no writable pids cgroup' }, async () => {
    const other = await api.deployFiles('bystander', [{ name: 'index.js', content: 'exports.handler = async () => "still here";\n' }], { handler: 'index.handler' });
    assert.equal(other.status, 201, other.text);
    // 1024 MB: at 128 the memory watchdog would end the bomb first (64 shells' resident memory)
    const bomb = await api.deployFiles('bomb', [{ name: 'bootstrap', content: FORK_BOMB, mode: 0o755 }], { runtime: 'provided', timeout: 3, memory: 1024 });
    assert.equal(bomb.status, 201, bomb.text);
    const before = new Set(instanceCgroups().map((c) => c.name));

    const exploding = api.invoke('bomb', {}, { log: true });
    // while it forks: its cgroup sits at the limit and no further
    await until('the fork bomb reaches its limit', () => instanceCgroups().some((c) => !before.has(c.name) && c.refused > 0));
    const bombGroup = instanceCgroups().find((c) => !before.has(c.name) && c.refused > 0)!;
    assert.ok(bombGroup.pids <= LIMIT, JSON.stringify(bombGroup));
    const health = await api.request('GET', '/healthz');
    assert.equal(health.status, 200);
    const bystander = await api.invoke('bystander');
    assert.equal(bystander.json.result, 'still here', bystander.text);

    const r = await exploding;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'failed');
    assert.equal((r.json.error as { errorType: string }).errorType, 'Sandbox.Timedout', r.text);
    // the invocation's logs say why its forks failed
    assert.ok(r.json.logs?.some((l) => l.stream === 'stderr' && new RegExp(`^\\[aviary: this instance reached its limit of ${LIMIT} processes and threads; starting another failed \\d+ times? \\(EAGAIN\\)\\]$`).test(l.message)), JSON.stringify(r.json.logs));
    // every process of the bomb ended with its instance, and its cgroup is gone
    await until('the fork bomb\'s cgroup is removed', () => !instanceCgroups().some((c) => c.name === bombGroup.name));
    const again = await api.invoke('bystander');
    assert.equal(again.json.result, 'still here');
  });

  test('stopping the server removes its cgroups', { skip: !expectLimit && 'no writable pids cgroup' }, async () => {
    assert.ok(existsSync(base), base);
    await server.stop();
    assert.equal(existsSync(base), false, `left behind: ${JSON.stringify(instanceCgroups())}`);
  });
});
