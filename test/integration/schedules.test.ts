// Schedules through a real server process: the /v1/schedules API, its errors (400 naming the
// field, 404, 409, and nothing changed), the cascade when a function is deleted, persistence
// across a restart, the CLI, and a seconds schedule firing the scheduled event into a function.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli, startServer, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, waitFor } from '../helpers/api.ts';

let dataDir: string;
let server: RunningServer;
let api: TestApi;

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'aviary-schedules-'));
  server = await startServer({ dataDir });
  api = new TestApi(server.url, server.adminKey);
  for (const name of ['hello', 'doomed']) {
    const r = await api.deployDir(name, fixture('node-echo'), { handler: 'index.handler' });
    assert.equal(r.status, 201, r.text);
  }
});
after(async () => {
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function names(): Promise<string[]> {
  const r = await api.request('GET', '/v1/schedules');
  assert.equal(r.status, 200, r.text);
  return (r.json.schedules as { name: string }[]).map((s) => s.name);
}

describe('the schedules API', () => {
  test('create with defaults, then get with its next fire times', async () => {
    const r = await api.request('POST', '/v1/schedules', { name: 'nightly', function: 'hello', expression: '0 3 * * *', timezone: 'Europe/Paris', data: { report: 'daily' } });
    assert.equal(r.status, 201, r.text);
    const s = r.json.schedule;
    assert.equal(s.name, 'nightly');
    assert.equal(s.function, 'hello');
    assert.equal(s.expression, '0 3 * * *');
    assert.equal(s.timezone, 'Europe/Paris');
    assert.deepEqual(s.data, { report: 'daily' });
    assert.equal(s.missedFirePolicy, 'skip');
    assert.equal(s.enabled, true);
    assert.equal(s.state, 'enabled');
    assert.equal(s.lastFireAt, null);
    assert.match(s.nextFireAtLocal, /^\d{4}-\d\d-\d\dT03:00:00\+0[12]:00$/);
    assert.equal(new Date(s.nextFireAt).getTime() > Date.now(), true);
    assert.equal(s.upcoming.length, 5);
    assert.equal(s.upcoming[0].time, s.nextFireAt);

    const g = await api.request('GET', '/v1/schedules/nightly');
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(g.json.schedule, s);
    const list = await api.request('GET', '/v1/schedules');
    assert.equal(list.json.schedules.find((x: { name: string }) => x.name === 'nightly').upcoming, undefined);
  });

  test('rate, EventBridge cron(…), a qualifier, run-once, created paused', async () => {
    const r1 = await api.request('POST', '/v1/schedules', { name: 'poll', function: 'hello:1', expression: 'rate(5 minutes)', missedFirePolicy: 'run-once' });
    assert.equal(r1.status, 201, r1.text);
    assert.equal(r1.json.schedule.function, 'hello:1');
    assert.equal(r1.json.schedule.missedFirePolicy, 'run-once');
    const next = new Date(r1.json.schedule.nextFireAt).getTime() - Date.now();
    assert.ok(next > 4 * 60_000 && next <= 5 * 60_000, `first fire in ${next} ms`);

    const r2 = await api.request('POST', '/v1/schedules', { name: 'weekdays', function: 'hello', expression: 'cron(0 8 ? * MON-FRI *)', timezone: 'America/New_York', enabled: false });
    assert.equal(r2.status, 201, r2.text);
    assert.equal(r2.json.schedule.state, 'paused');
    assert.equal(r2.json.schedule.nextFireAt, null);
    assert.deepEqual(r2.json.schedule.upcoming, []);
  });

  test('pause and resume', async () => {
    const p = await api.request('POST', '/v1/schedules/nightly/pause');
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.schedule.state, 'paused');
    assert.equal(p.json.schedule.nextFireAt, null);
    const again = await api.request('POST', '/v1/schedules/nightly/pause');
    assert.equal(again.status, 200);
    const r = await api.request('POST', '/v1/schedules/nightly/resume');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.schedule.state, 'enabled');
    assert.match(r.json.schedule.nextFireAtLocal, /T03:00:00/);
  });

  test('bad input: 400 naming each field, and nothing changes', async () => {
    const before = await names();
    const cases: [unknown, { path: string; message: string }[]][] = [
      [{ name: 'x', function: 'hello', expression: '0 3 * * *', extra: 1 }, [{ path: 'extra', message: 'is not a known field' }]],
      [{ name: 'x' }, [{ path: 'function', message: 'is required' }, { path: 'expression', message: 'is required' }]],
      [{ name: 'x', function: 7, expression: null }, [{ path: 'function', message: 'must be a string: the function name, or name:qualifier' }, { path: 'expression', message: 'must be a string: a cron or rate expression, e.g. 0 3 * * * or rate(5 minutes)' }]],
      [{ name: 'x', function: 'hello', expression: '61 * * * *', timezone: 'Mars/Base' }, [
        { path: 'timezone', message: 'unknown time zone "Mars/Base": use an IANA name like Europe/Paris, America/New_York or UTC' },
        { path: 'expression', message: '"61 * * * *" is not a valid cron expression: the minute field "61" is out of range (0-59)' },
      ]],
      [{ name: 'x', function: 'hello', expression: 'rate(1 minutes)' }, [{ path: 'expression', message: '"rate(1 minutes)": use the singular unit for 1, as in rate(1 minute)' }]],
      [{ name: 'x', function: 'hello', expression: '* * 31 2 *' }, [{ path: 'expression', message: `"* * 31 2 *" never fires: no time after ${'ISO'} matches it` }]],
      [{ name: 'x', function: 'hello', expression: '0 3 * * *', data: [1, 2] }, [{ path: 'data', message: 'must be a JSON object (it becomes the event\'s detail)' }]],
      [{ name: 'x', function: 'hello', expression: '0 3 * * *', missedFirePolicy: 'catch-up' }, [{ path: 'missedFirePolicy', message: 'must be one of skip, run-once' }]],
      [{ name: '1bad', function: 'hello', expression: '0 3 * * *' }, [{ path: 'name', message: 'must be 1-64 letters, digits, - or _, starting with a letter' }]],
      [{ name: 'x', function: 'hello', expression: '0 3 * * *', data: { big: 'x'.repeat(256 * 1024) } }, [{ path: 'data', message: `is ${256 * 1024 + 10} bytes as JSON; the limit is ${255 * 1024}` }]],
    ];
    for (const [body, issues] of cases) {
      const r = await api.request('POST', '/v1/schedules', body);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.code, 'ValidationError');
      const got = (r.json.error.issues as { path: string; message: string }[]).map((i) => ({ ...i, message: i.message.replace(/after \S+Z matches/, 'after ISO matches') }));
      assert.deepEqual(got, issues, JSON.stringify(body).slice(0, 200));
      assert.match(r.json.error.message, /^invalid schedule: /);
    }
    assert.deepEqual(await names(), before);
  });

  test('an unknown function or version is a 400 on the function field', async () => {
    const r = await api.request('POST', '/v1/schedules', { name: 'x', function: 'nope', expression: '0 3 * * *' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.issues[0].path, 'function');
    assert.match(r.json.error.issues[0].message, /function nope does not exist/);
    const v = await api.request('POST', '/v1/schedules', { name: 'x', function: 'hello:9', expression: '0 3 * * *' });
    assert.equal(v.status, 400, v.text);
    assert.equal(v.json.error.issues[0].path, 'function');
    assert.match(v.json.error.issues[0].message, /has no version "9"/);
    assert.equal((await names()).includes('x'), false);
  });

  test('a taken name is a 409, an unknown one a 404, a bad one a 400', async () => {
    const r = await api.request('POST', '/v1/schedules', { name: 'nightly', function: 'hello', expression: 'rate(1 hour)' });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.error.code, 'ScheduleConflict');
    assert.equal((await api.request('GET', '/v1/schedules/nightly')).json.schedule.expression, '0 3 * * *');
    for (const [method, p] of [['GET', ''], ['POST', '/pause'], ['POST', '/resume'], ['DELETE', '']] as const) {
      const nf = await api.request(method, `/v1/schedules/ghost${p}`);
      assert.equal(nf.status, 404, nf.text);
      assert.equal(nf.json.error.code, 'ScheduleNotFound');
      const bad = await api.request(method, `/v1/schedules/1bad${p}`);
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json.error.issues[0].path, 'name');
    }
  });

  test('delete', async () => {
    const c = await api.request('POST', '/v1/schedules', { name: 'temp', function: 'hello', expression: 'rate(1 day)' });
    assert.equal(c.status, 201, c.text);
    const d = await api.request('DELETE', '/v1/schedules/temp');
    assert.equal(d.status, 204, d.text);
    assert.equal((await api.request('GET', '/v1/schedules/temp')).status, 404);
  });

  test('deleting a function deletes its schedules', async () => {
    const c = await api.request('POST', '/v1/schedules', { name: 'doomed-daily', function: 'doomed', expression: '0 3 * * *' });
    assert.equal(c.status, 201, c.text);
    assert.equal((await api.request('DELETE', '/v1/functions/doomed')).status, 204);
    assert.equal((await names()).includes('doomed-daily'), false);
    const again = await api.deployDir('doomed', fixture('node-echo'), { handler: 'index.handler' });
    assert.equal(again.status, 201);
    assert.equal((await names()).includes('doomed-daily'), false);
  });
});

describe('the schedule CLI', () => {
  const cli = (args: string[]) => runCli(args, { env: { AVIARY_URL: server.url, AVIARY_API_KEY: server.adminKey } });

  test('add, list, get, pause, resume, delete', async () => {
    const add = await cli(['schedule', 'add', 'cli-nightly', 'hello', '--cron', '0 3 * * *', '--tz', 'Europe/Paris', '--data', '{"a":1}', '--missed', 'run-once']);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /^Added schedule cli-nightly: 0 3 \* \* \* \(Europe\/Paris\) → hello\nNext fire: \S+T03:00:00\+0[12]:00 Europe\/Paris \(\S+T0[12]:00:00Z\)\n$/);
    const rate = await cli(['schedule', 'add', 'cli-poll', 'hello', '--rate', '10 minutes', '--paused']);
    assert.equal(rate.code, 0, rate.stderr);
    assert.equal(rate.stdout, 'Added schedule cli-poll: rate(10 minutes) → hello (paused)\n');

    const list = await cli(['schedule', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME +FUNCTION +SCHEDULE +STATE +NEXT \(LOCAL\) +NEXT \(UTC\) +LAST\n/);
    assert.match(list.stdout, /\ncli-nightly +hello +0 3 \* \* \* \(Europe\/Paris\) +enabled +\S+T03:00:00\+0[12]:00 +\S+Z +-\n/);
    assert.match(list.stdout, /\ncli-poll +hello +rate\(10 minutes\) +paused +- +- +-\n/);

    const get = await cli(['schedule', 'get', 'cli-nightly']);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^Schedule +cli-nightly\n/);
    assert.match(get.stdout, /\nMissed fires +run once on start\n/);
    assert.match(get.stdout, /\nData +\{"a":1\}\n/);
    assert.equal(get.stdout.match(/^ {2}\S+T03:00:00\+0[12]:00 {2}\(\S+Z\)$/gm)?.length, 5);

    const json = await cli(['schedule', 'get', 'cli-nightly', '--json']);
    assert.equal(JSON.parse(json.stdout).schedule.missedFirePolicy, 'run-once');

    assert.equal((await cli(['schedule', 'pause', 'cli-nightly'])).stdout, 'Paused schedule cli-nightly\n');
    assert.match((await cli(['schedule', 'resume', 'cli-poll'])).stdout, /^Resumed schedule cli-poll; next fire: \S+Z\n$/);
    assert.equal((await cli(['schedule', 'delete', 'cli-poll'])).stdout, 'Deleted schedule cli-poll\n');
    assert.equal((await cli(['schedule', 'delete', 'cli-nightly'])).code, 0);
  });

  test('errors: a usage error exits 2 before calling the server, a server 400 exits 1 with its issues', async () => {
    const both = await cli(['schedule', 'add', 'x', 'hello', '--cron', '0 3 * * *', '--rate', '5 minutes']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /error: give exactly one of --cron EXPRESSION or --rate RATE/);
    const missed = await cli(['schedule', 'add', 'x', 'hello', '--rate', '5 minutes', '--missed', 'later']);
    assert.equal(missed.code, 2);
    assert.match(missed.stderr, /Expected skip or run-once/);
    const bad = await cli(['schedule', 'add', 'x', 'hello', '--cron', '0 3 * *', '--tz', 'Mars/Base']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: invalid schedule: /);
    assert.match(bad.stderr, /\n {2}- timezone: unknown time zone "Mars\/Base"/);
    assert.match(bad.stderr, /\n {2}- expression: "0 3 \* \*" has 4 fields/);
    const missing = await cli(['schedule', 'get', 'ghost']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no schedule named ghost/);
  });
});

describe('persistence', () => {
  test('schedules and their state survive a restart', async () => {
    const beforeRestart = (await api.request('GET', '/v1/schedules')).json.schedules;
    await server.stop();
    server = await startServer({ dataDir });
    api = new TestApi(server.url, server.adminKey);
    const afterRestart = (await api.request('GET', '/v1/schedules')).json.schedules;
    assert.deepEqual(afterRestart.map((s: { name: string; state: string }) => `${s.name}:${s.state}`), beforeRestart.map((s: { name: string; state: string }) => `${s.name}:${s.state}`));
    assert.deepEqual(afterRestart.find((s: { name: string }) => s.name === 'nightly'), beforeRestart.find((s: { name: string }) => s.name === 'nightly'));
  });
});

describe('firing', () => {
  test('a seconds schedule fires an async invocation carrying the scheduled event', async () => {
    const c = await api.request('POST', '/v1/schedules', { name: 'tick', function: 'hello', expression: '*/2 * * * * *', data: { n: 7 } });
    assert.equal(c.status, 201, c.text);
    let schedule: { lastInvocationId: string | null; lastFireAt: string | null; lastError: string | null } | undefined;
    const fired = await waitFor(async () => {
      schedule = (await api.request('GET', '/v1/schedules/tick')).json.schedule;
      return schedule?.lastInvocationId !== null || schedule?.lastError !== null;
    }, 8000);
    assert.ok(fired, `no fire within 8 s; server output:\n${server.output()}`);
    assert.equal(schedule?.lastError, null);
    await api.request('POST', '/v1/schedules/tick/pause');

    let result: any;
    const ran = await waitFor(async () => {
      const r = await api.request('GET', `/v1/invocations/${schedule?.lastInvocationId}`);
      result = r.json?.invocation ?? r.json;
      return result?.status === 'succeeded' || result?.status === 'failed';
    }, 20_000);
    assert.ok(ran, JSON.stringify(result));
    assert.equal(result.status, 'succeeded', JSON.stringify(result));
    const event = result.result;
    assert.equal(event.source, 'aviary.scheduler');
    assert.equal(event['detail-type'], 'Scheduled Event');
    assert.equal(event.version, '0');
    assert.equal(event.account, '000000000000');
    assert.equal(event.region, 'local');
    assert.deepEqual(event.resources, ['arn:aws:scheduler:local:000000000000:schedule/default/tick']);
    assert.deepEqual(event.detail, { n: 7 });
    assert.match(event.id, /^[0-9a-f-]{36}$/);
    // the scheduled time: a whole even second, the one recorded as the last fire
    assert.match(event.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d[02468]Z$/);
  });
});
