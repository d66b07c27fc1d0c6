// Accepted async events survive `kill -9` of the server: accept N under load, kill, restart on the
// same data folder, and every accepted event completes. The function reports each run to a local
// HTTP server, so a duplicate run is seen; one is allowed only for an event running at the kill.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, waitFor } from '../helpers/api.ts';
import { Collector } from '../helpers/collector.ts';

const N = 300;
/** Instances of the function, so at most this many events are running at any moment. */
const MAX_INSTANCES = 4;
const ENV = { AVIARY_ASYNC_POLL_MS: '100' };

interface Run {
  /** `id key` of each event answered 202 before the kill. */
  accepted: string[];
  collector: Collector;
  /** Events finished and runs started when the server was killed after accepting all (null: killed during accepting). */
  atKill: { succeeded: number; runs: number } | null;
}

/** Kills the server once `killWhenAccepted` events are accepted, or (null) once all are and some ran. */
async function killedMidRun(dataDir: string, killWhenAccepted: number | null): Promise<Run> {
  const collector = await new Collector().start();
  const server = await startServer({ dataDir, env: ENV });
  const api = new TestApi(server.url, server.adminKey);
  const deployed = await api.deployDir('work', fixture('node-async'), { handler: 'index.handler', maxInstances: MAX_INSTANCES });
  assert.equal(deployed.status, 201, deployed.text);

  const accepted: string[] = [];
  let killed = false;
  const kill = (): void => {
    if (killed) return;
    killed = true;
    process.kill(server.pid, 'SIGKILL');
  };
  // all N at once: each 202 means the event was committed before the answer
  await Promise.all(Array.from({ length: N }, async (_, i) => {
    const event = { key: `e${i}`, report: `${collector.url}/run`, sleepMs: 10 };
    try {
      const r = await api.request('POST', '/v1/functions/work/invocations?mode=async', JSON.stringify(event), { 'content-type': 'application/json' });
      if (r.status === 202 && !killed) accepted.push(`${r.json.id} e${i}`);
      else if (r.status !== 202) assert.fail(`POST ${i}: ${r.status} ${r.text}`);
    } catch {
      assert.ok(killed, `POST ${i} failed before the kill`);
    }
    if (killWhenAccepted !== null && accepted.length >= killWhenAccepted) kill();
  }));
  let atKill: Run['atKill'] = null;
  if (!killed) {
    await waitFor(async () => collector.on('/run').length >= N / 4, 30_000, 5);
    const done = await api.request('GET', '/v1/functions/work/invocations?status=succeeded&limit=1000');
    atKill = { succeeded: done.json.invocations.length, runs: collector.on('/run').length };
    kill();
  }
  await server.stop();
  return { accepted, collector, atKill };
}

async function restartAndCheck(dataDir: string, run: Run): Promise<void> {
  const server: RunningServer = await startServer({ dataDir, env: ENV });
  const api = new TestApi(server.url, server.adminKey);
  try {
    const ids = new Map(run.accepted.map((line) => line.split(' ') as [string, string]));
    let byId = new Map<string, string>();
    const all = await waitFor(async () => {
      const r = await api.request('GET', '/v1/functions/work/invocations?status=succeeded&limit=1000');
      byId = new Map((r.json.invocations as { id: string; status: string }[]).map((i) => [i.id, i.status]));
      return [...ids.keys()].every((id) => byId.has(id));
    }, 60_000, 200);
    const missing = [...ids.keys()].filter((id) => !byId.has(id));
    assert.ok(all, `${missing.length} accepted events did not complete after the restart, e.g. ${missing.slice(0, 3).join(', ')}\n${server.output().slice(-2000)}`);

    // every accepted event ran; a second run only for those cut short by the kill (at most one per instance)
    await new Promise((r) => setTimeout(r, 300));
    const runs = new Map<string, number>();
    for (const hit of run.collector.on('/run')) runs.set(hit.query.get('key')!, (runs.get(hit.query.get('key')!) ?? 0) + 1);
    for (const key of ids.values()) assert.ok((runs.get(key) ?? 0) >= 1, `${key} never ran`);
    const twice = [...ids.values()].filter((key) => (runs.get(key) ?? 0) > 1);
    assert.ok(twice.length <= MAX_INSTANCES, `${twice.length} events ran twice; only the ${MAX_INSTANCES} that can run at once may: ${twice.join(', ')}`);
    assert.ok([...runs.values()].every((n) => n <= 2), 'no event ran more than twice');
  } finally {
    await server.stop();
    await run.collector.stop();
  }
}

describe('kill -9 loses no accepted async event', { timeout: 180_000 }, () => {
  test(`${N} accepted, killed while they run, all complete after restart`, async (t) => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'aviary-async-crash-'));
    try {
      const run = await killedMidRun(dataDir, null);
      assert.equal(run.accepted.length, N);
      t.diagnostic(`at the kill: ${run.atKill?.runs} runs started, ${run.atKill?.succeeded} of ${N} finished`);
      assert.ok(run.atKill && run.atKill.runs > 0 && run.atKill.succeeded < N, `the kill must come while events run: ${JSON.stringify(run.atKill)}`);
      await restartAndCheck(dataDir, run);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('killed while events are still being accepted: every 202 completes after restart', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'aviary-async-crash-'));
    try {
      const run = await killedMidRun(dataDir, N / 2);
      assert.ok(run.accepted.length >= N / 2 && run.accepted.length < N, `accepted ${run.accepted.length}`);
      await restartAndCheck(dataDir, run);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
