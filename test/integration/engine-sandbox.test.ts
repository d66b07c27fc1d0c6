// What a function sees, through a real server process: its environment (the user's variables
// and Lambda's reserved ones, nothing of the server's), the sandbox's file system (bubblewrap
// only), and its logs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, type DeployConfig, type InvokeBody } from '../helpers/api.ts';

let server: RunningServer;
let api: TestApi;
/** Set in the server's own environment only; a function must never see them. */
const SERVER_SECRETS = { AVIARY_SECRET_TEST: 'leak', SERVER_SECRET_TEST: 'leak' };

/** Outside /tmp, so "invisible inside" is not just the sandbox's private /tmp hiding it. */
let dataDir: string;

before(async () => {
  dataDir = await mkdtemp(path.join('/var/tmp', 'aviary-test-data-'));
  server = await startServer({ env: SERVER_SECRETS, dataDir });
  api = new TestApi(server.url, server.adminKey);
});
after(async () => {
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function deploy(name: string, fixtureName: string, config: DeployConfig = {}): Promise<void> {
  const r = await api.deployDir(name, fixture(fixtureName), { handler: 'index.handler', ...config });
  assert.equal(r.status, 201, `deploy ${name} from ${fixtureName}: ${r.text}`);
}

async function invokeOk(ref: string, event: unknown = {}, log = false): Promise<InvokeBody> {
  const r = await api.invoke(ref, event, { log });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'succeeded', JSON.stringify(r.json.error));
  return r.json;
}

/** Variables an instance may have besides the user's: Lambda's reserved ones and a minimal base. */
const ALLOWED_ENV = /^(AWS_[A-Z0-9_]+|LAMBDA_[A-Z0-9_]+|_HANDLER|_X_AMZN_TRACE_ID|PATH|LANG|HOME|TZ|PWD|NODE_PATH)$/;

describe('environment', () => {
  test('user env reaches the handler, Lambda variables are set, the server\'s environment does not leak', async () => {
    await deploy('env-probe', 'node-sandbox-probe', { env: { GREETING: 'hi', DB_HOST: 'db.local' }, memory: 256 });
    const { env } = (await invokeOk('env-probe')).result as { env: Record<string, string> };
    assert.equal(env.GREETING, 'hi');
    assert.equal(env.DB_HOST, 'db.local');
    assert.equal(env.AWS_LAMBDA_FUNCTION_NAME, 'env-probe');
    assert.equal(env.AWS_LAMBDA_FUNCTION_VERSION, '1');
    assert.equal(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, '256');
    for (const key of Object.keys(SERVER_SECRETS)) assert.equal(env[key], undefined, `${key} leaked into the function`);
    assert.equal(env.AVIARY_ADMIN_KEY, undefined, 'the admin key leaked into the function');
    const unexpected = Object.keys(env).filter((k) => !ALLOWED_ENV.test(k) && k !== 'GREETING' && k !== 'DB_HOST');
    assert.deepEqual(unexpected, [], `variables beyond the documented ones and the user's: ${unexpected.join(', ')}`);
  });
});

/** The host path of a file whose content contains `marker`, under `dir`. */
async function findFileContaining(dir: string, marker: string): Promise<string | undefined> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (file.endsWith('.zip') || !file.endsWith('.js')) continue;
    if ((await readFile(file, 'utf8')).includes(marker)) return file;
  }
  return undefined;
}

describe('isolation', () => {
  test('the function cannot see the data dir or other code; /var/task is read-only; /tmp is writable', async (t) => {
    const health = await api.request('GET', '/healthz');
    if (health.json.isolation !== 'bubblewrap') {
      t.skip('bubblewrap unavailable');
      return;
    }
    const marker = `secret-code-${Date.now()}`;
    const other = await api.deployFiles('other-tenant', [{ name: 'index.js', content: `// ${marker}\nexports.handler = async () => 'mine';\n` }], { handler: 'index.handler' });
    assert.equal(other.status, 201, other.text);
    const otherCode = await findFileContaining(server.dataDir, marker);
    assert.ok(otherCode, 'the other function\'s built code is somewhere in the data dir');

    await deploy('probe', 'node-sandbox-probe');
    const result = (await invokeOk('probe', { paths: [server.dataDir, otherCode, '/var/task/index.js'], readPath: otherCode })).result;
    assert.equal(result.exists['/var/task/index.js'], true, 'the function sees its own code');
    assert.equal(result.exists[server.dataDir], false, 'the data dir is visible inside the sandbox');
    assert.equal(result.exists[otherCode], false, 'another function\'s code is visible inside the sandbox');
    assert.equal(result.read.ok, false, 'another function\'s code is readable');
    assert.equal(result.writeTask.ok, false, '/var/task is writable');
    assert.equal(result.writeTask.code, 'EROFS', JSON.stringify(result.writeTask));
    assert.deepEqual(result.writeTmp, { ok: true, value: 'tmp ok' });
  });

  test('functions run under SCHED_BATCH: a woken instance never preempts the server', async () => {
    await deploy('sched-probe', 'node-sandbox-probe');
    const result = (await invokeOk('sched-probe', {})).result;
    assert.deepEqual(result.schedPolicy, { ok: true, value: 3 }, 'SCHED_BATCH is policy 3');
  });
});

describe('logs', () => {
  test('console output comes back with ?log=true, tagged with the request id; init output belongs to the first invocation', async () => {
    await deploy('logger', 'node-logs');
    const first = await invokeOk('logger', { n: 5 }, true);
    const logs = first.logs ?? [];
    const messages = logs.map((l) => l.message);
    assert.ok(messages.includes('init line'), `init output on the first invocation: ${JSON.stringify(messages)}`);
    assert.ok(messages.includes('hello from stdout 5'), JSON.stringify(messages));
    assert.ok(logs.some((l) => l.message === 'hello from stderr' && l.stream === 'stderr'), JSON.stringify(logs));
    assert.ok(messages.includes('partial line'), JSON.stringify(messages));
    for (const l of logs) {
      assert.equal(l.requestId, first.requestId);
      assert.equal(l.version, 1);
    }

    const second = await invokeOk('logger', { n: 6 }, true);
    const secondMessages = (second.logs ?? []).map((l) => l.message);
    assert.ok(secondMessages.includes('hello from stdout 6'), JSON.stringify(secondMessages));
    assert.ok(!secondMessages.includes('init line'), 'init output only on the first invocation');
    assert.ok(!secondMessages.includes('hello from stdout 5'), 'no output of the previous invocation');

    const noLog = await api.invoke('logger', { n: 7 });
    assert.equal(noLog.json.logs, undefined, 'logs only with ?log=true');

    const stored = await api.request('GET', `/v1/functions/logger/logs?invocation=${first.requestId}`);
    assert.equal(stored.status, 200, stored.text);
    const storedLogs = stored.json.logs as { requestId: string; message: string }[];
    assert.ok(storedLogs.length > 0);
    for (const l of storedLogs) assert.equal(l.requestId, first.requestId);
    const storedMessages = storedLogs.map((l) => l.message);
    for (const m of ['init line', 'hello from stdout 5', 'hello from stderr']) assert.ok(storedMessages.includes(m), `${m} in ${JSON.stringify(storedMessages)}`);
  });
});
