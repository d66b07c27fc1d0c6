// Deploys and bad input through a real server process: atomic deploys (a bad zip or a syntax
// error leaves the previous version serving), version qualifiers, not-found errors, and a 4xx
// with a JSON error naming the field for each kind of bad input, with nothing changed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { entriesFromDir, fixture, TestApi, type ApiResponse, type DeployConfig } from '../helpers/api.ts';
import { zipFromEntries } from '../helpers/zip.ts';

let server: RunningServer;
let api: TestApi;
let digest: string;

before(async () => {
  server = await startServer();
  api = new TestApi(server.url, server.adminKey);
  await deploy('stable', 'node-counter');
  digest = await api.upload(await zipFromEntries(await entriesFromDir(fixture('node-cjs'))));
});
after(async () => {
  await server?.stop();
});

async function deploy(name: string, fixtureName: string, config: DeployConfig = {}): Promise<void> {
  const r = await api.deployDir(name, fixture(fixtureName), { handler: 'index.handler', ...config });
  assert.equal(r.status, 201, `deploy ${name} from ${fixtureName}: ${r.text}`);
}

function assertError(r: ApiResponse, status: number, code: string, mentions?: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error?.code, code, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  if (mentions) assert.match(r.json.error.message, mentions);
}

/** Everything a failed request must leave alone: functions, versions of `stable`, routes. */
async function snapshot(): Promise<unknown> {
  const functions = await api.request('GET', '/v1/functions');
  const versions = await api.request('GET', '/v1/functions/stable/versions');
  const routes = await api.request('GET', '/v1/routes');
  assert.equal(functions.status, 200);
  return { functions: functions.json, versions: versions.json, routes: routes.json };
}

/** Runs `bad`, checks its error (and, for a ValidationError, the issue of `field`), and that nothing changed. */
async function rejects(bad: () => Promise<ApiResponse>, status: number, code: string, mentions: RegExp, field?: string): Promise<void> {
  const before = await snapshot();
  const r = await bad();
  assertError(r, status, code, mentions);
  if (field !== undefined) {
    const issues = (r.json.error.issues ?? []) as { path: string }[];
    assert.ok(issues.some((i) => i.path === field), `an issue for ${field}: ${r.text}`);
  }
  assert.deepEqual(await snapshot(), before, 'a failed request changes nothing');
}

async function stableStillServes(): Promise<void> {
  const r = await api.invoke('stable');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'succeeded', JSON.stringify(r.json.error));
  assert.equal(r.json.version, 1);
}

describe('atomic deploys', () => {
  test('a package of random bytes → 400 InvalidPackage; the previous version keeps serving', async () => {
    const before = await snapshot();
    const upload = await api.request('POST', '/v1/packages', randomBytes(4096), { 'content-type': 'application/zip' });
    if (upload.status === 201 || upload.status === 200) {
      // stored as bytes; the deploy that builds it must refuse it
      const r = await api.request('POST', '/v1/functions/stable/versions', { runtime: 'node', handler: 'index.handler', package: upload.json.digest });
      assertError(r, 400, 'InvalidPackage');
    } else {
      assertError(upload, 400, 'InvalidPackage');
    }
    assert.deepEqual(await snapshot(), before);
    const fn = await api.request('GET', '/v1/functions/stable');
    assert.equal(fn.json.version.version, 1);
    assert.equal(fn.json.function.latestVersion, 1);
    await stableStillServes();
  });

  test('a syntax error in a new version → 400 BuildFailed naming index.js:LINE; the previous version keeps serving', async () => {
    const before = await snapshot();
    const r = await api.deployDir('stable', fixture('node-syntax'), { handler: 'index.handler' });
    // node-syntax/index.js: line 3 is `return { broken: ;`
    assertError(r, 400, 'BuildFailed', /index\.js:3\b/);
    assert.deepEqual(await snapshot(), before);
    await stableStillServes();
  });
});

describe('listing', () => {
  test('GET /v1/functions carries each newest version\'s runtime, memory and timeout', async () => {
    const r = await api.request('GET', '/v1/functions');
    const stable = (r.json.functions as { name: string; runtime?: string; memory?: number; timeout?: number }[]).find((f) => f.name === 'stable');
    assert.ok(stable, r.text);
    assert.deepEqual([stable.runtime, stable.memory, stable.timeout], ['node', 128, 3]);
  });
});

describe('versions and not found', () => {
  test('unknown function → 404 FunctionNotFound; unknown version → 404 VersionNotFound', async () => {
    assertError(await api.invoke('no-such-function'), 404, 'FunctionNotFound', /no-such-function/);
    await deploy('hello', 'node-cjs');
    assertError(await api.invoke('hello:99'), 404, 'VersionNotFound', /99/);
  });

  test('hello:1 runs version 1 after version 2 is deployed', async () => {
    await deploy('qualified', 'node-cjs');
    await deploy('qualified', 'node-esm');
    const v1 = await api.invoke('qualified:1', { q: 1 });
    assert.equal(v1.json.version, 1);
    assert.equal(v1.json.result.format, 'cjs');
    const latest = await api.invoke('qualified', { q: 2 });
    assert.equal(latest.json.version, 2);
    assert.equal(latest.json.result.format, 'esm-mjs');
    const versions = await api.request('GET', '/v1/functions/qualified/versions');
    assert.deepEqual(versions.json.versions.map((v: { version: number }) => v.version), [1, 2]);
  });
});

describe('bad input gets a 4xx naming the problem and changes nothing', () => {
  const deployBody = (extra: Record<string, unknown>) => ({ runtime: 'node', handler: 'index.handler', package: digest, ...extra });
  const deployTo = (name: string, body: unknown) => () => api.request('POST', `/v1/functions/${name}/versions`, body);

  test('unknown field in a deploy body', async () => {
    await rejects(deployTo('fresh', deployBody({ memorySize: 256 })), 400, 'ValidationError', /memorySize/, 'memorySize');
  });
  test('memory 64', async () => {
    await rejects(deployTo('fresh', deployBody({ memory: 64 })), 400, 'ValidationError', /memory/, 'memory');
  });
  test('timeout 0', async () => {
    await rejects(deployTo('fresh', deployBody({ timeout: 0 })), 400, 'ValidationError', /timeout/, 'timeout');
  });
  test('bad function name 9abc', async () => {
    await rejects(deployTo('9abc', deployBody({})), 400, 'ValidationError', /9abc/, 'name');
  });
  test('runtime ruby', async () => {
    await rejects(deployTo('fresh', deployBody({ runtime: 'ruby' })), 400, 'ValidationError', /runtime/, 'runtime');
  });
  test('missing handler for node', async () => {
    await rejects(deployTo('fresh', { runtime: 'node', package: digest }), 400, 'ValidationError', /handler/, 'handler');
  });
  test('reserved env var AWS_REGION', async () => {
    await rejects(deployTo('fresh', deployBody({ env: { AWS_REGION: 'eu-west-1' } })), 400, 'ValidationError', /AWS_REGION/, 'env.AWS_REGION');
  });
  test('the same route twice → 409 RouteConflict', async () => {
    const first = await api.addRoute('GET', '/conflict/{id}', 'stable');
    assert.equal(first.status, 201, first.text);
    await rejects(() => api.addRoute('GET', '/conflict/{id}', 'stable'), 409, 'RouteConflict', /\/conflict\/\{id\}/);
  });
  test('a route under /v1', async () => {
    await rejects(() => api.addRoute('GET', '/v1/x', 'stable'), 400, 'ValidationError', /path\b.*\/v1/, 'path');
  });
  test('a malformed route path', async () => {
    await rejects(() => api.addRoute('GET', '/a/{unclosed', 'stable'), 400, 'ValidationError', /path\b.*\{unclosed/, 'path');
    await rejects(() => api.addRoute('GET', 'no-leading-slash', 'stable'), 400, 'ValidationError', /path\b.*no-leading-slash/, 'path');
  });
  test('an invocation body that is not JSON', async () => {
    await rejects(() => api.invoke('stable', '{not json'), 400, 'ValidationError', /JSON/, 'body');
  });
  test('no API key → 401', async () => {
    const anonymous = new TestApi(server.url);
    await rejects(() => anonymous.request('POST', '/v1/functions/fresh/versions', deployBody({})), 401, 'Unauthorized', /key/i);
    assertError(await anonymous.request('GET', '/v1/functions'), 401, 'Unauthorized');
  });
  test('a wrong API key → 401', async () => {
    const wrong = new TestApi(server.url, 'not-the-key');
    await rejects(() => wrong.request('POST', '/v1/functions/fresh/versions', deployBody({})), 401, 'Unauthorized', /key/i);
    await rejects(() => wrong.invoke('stable'), 401, 'Unauthorized', /key/i);
  });
});
