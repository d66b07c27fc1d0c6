// AWS's own Runtime Interface Client for Node.js (npm `aws-lambda-ric`, the runtime AWS's
// Node base images run) as a `provided` bootstrap: proof that a real, unmodified Lambda custom
// runtime speaks Aviary's Runtime API.
//
// The ric compiles curl and aws-lambda-cpp from vendored sources at install time (~1–2 min), so
// the build is cached under ~/.cache/aviary-test/. Without a cached build the tests skip,
// unless AVIARY_TEST_BUILD_RIC=1 is set: then the first run builds it with
// `npm install aws-lambda-ric@VERSION` (needs the npm registry, cmake, make, g++ and the Node
// headers that node-gyp finds — npm's `nodedir` setting or a download from nodejs.org).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { zipFromEntries, type ZipEntrySpec } from '../helpers/zip.ts';

const RIC_VERSION = '4.0.2';
const CACHE_DIR = path.join(os.homedir(), '.cache', 'aviary-test', `aws-lambda-ric-${RIC_VERSION}-${process.platform}-${process.arch}`);
/** All the installed ric needs at run time: a self-contained ESM bundle and its N-API addon. */
const RUNTIME_FILES = ['index.mjs', 'rapid-client.node', 'package.json', 'LICENSE', 'NOTICE'];
const BUILD_FLAG = 'AVIARY_TEST_BUILD_RIC';

function cached(): boolean {
  return RUNTIME_FILES.every((f) => existsSync(path.join(CACHE_DIR, f)));
}

/** Builds the ric with npm into a temporary folder and moves its runtime files into the cache. */
async function buildIntoCache(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'aviary-ric-build-'));
  const logFile = path.join(work, 'npm-install.log');
  try {
    // allowScripts: npm 11 asks packages with install scripts to be allowed explicitly
    await writeFile(path.join(work, 'package.json'), JSON.stringify({ name: 'ric-build', private: true, allowScripts: { 'aws-lambda-ric': true } }));
    const fd = openSync(logFile, 'w');
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', `aws-lambda-ric@${RIC_VERSION}`], {
        cwd: work,
        stdio: ['ignore', fd, fd],
        env: process.env,
      });
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    }).finally(() => closeSync(fd));
    const installed = path.join(work, 'node_modules', 'aws-lambda-ric');
    if (code !== 0 || !existsSync(path.join(installed, 'rapid-client.node'))) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`npm install aws-lambda-ric@${RIC_VERSION} failed (exit ${code}); last output:\n${log.slice(-4000)}`);
    }
    const staging = `${CACHE_DIR}.tmp-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    for (const f of RUNTIME_FILES) await cp(path.join(installed, f), path.join(staging, f));
    await rm(CACHE_DIR, { recursive: true, force: true });
    await rename(staging, CACHE_DIR);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Why the tests cannot run, or undefined when the ric is ready (built now if allowed). */
async function prepare(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `aws-lambda-ric builds only on Linux (this is ${process.platform})`;
  if (cached()) return undefined;
  if (process.env[BUILD_FLAG] !== '1') {
    return `aws-lambda-ric ${RIC_VERSION} is not built (no cache at ${CACHE_DIR}); run once with ${BUILD_FLAG}=1 to build it (~2 min: npm install compiles curl and aws-lambda-cpp)`;
  }
  await buildIntoCache();
  return undefined;
}

const skipReason = await prepare();
if (skipReason) console.log(`# skipping aws-lambda-ric tests: ${skipReason}`);

interface Invocation {
  requestId: string;
  status: 'succeeded' | 'failed';
  result?: any;
  error?: { errorType: string; errorMessage: string; trace?: string[] };
  durationMs: number;
  cold: boolean;
  logs: { stream: string; message: string; requestId: string }[];
}

let server: RunningServer;

async function call(method: string, urlPath: string, body?: string | Buffer, contentType = 'application/json'): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function deploy(name: string, entries: ZipEntrySpec[], config: Record<string, unknown>): Promise<void> {
  const pkg = await call('POST', '/v1/packages', await zipFromEntries(entries), 'application/zip');
  assert.ok(pkg.status === 201 || pkg.status === 200, `upload: ${pkg.status} ${JSON.stringify(pkg.json)}`);
  const v = await call('POST', `/v1/functions/${name}/versions`, JSON.stringify({ runtime: 'provided', package: pkg.json.digest, ...config }));
  assert.equal(v.status, 201, `deploy ${name}: ${JSON.stringify(v.json)}`);
}

async function invoke(ref: string, event: unknown): Promise<Invocation> {
  const r = await call('POST', `/v1/functions/${ref}/invocations?log=true`, JSON.stringify(event));
  assert.equal(r.status, 200, `invoke ${ref}: ${JSON.stringify(r.json)}`);
  return r.json as Invocation;
}

function explain(inv: Invocation): string {
  return `${JSON.stringify(inv, null, 1)}\n--- server output ---\n${server.output().slice(-3000)}`;
}

/**
 * A package as a Lambda user would build it for a custom runtime: the ric under ric/, the
 * handler module, and a bootstrap starting the ric with the server's node (the sandbox mounts
 * that node's folder at the same path; the sandbox PATH has no node).
 */
async function ricPackage(handlerSource: string): Promise<ZipEntrySpec[]> {
  const ric = await Promise.all(RUNTIME_FILES.map(async (f) => ({
    name: `ric/${f}`,
    content: await readFile(path.join(CACHE_DIR, f)),
    mode: f === 'rapid-client.node' ? 0o755 : 0o644,
  })));
  return [
    { name: 'bootstrap', mode: 0o755, content: `#!/bin/sh\nexec '${process.execPath}' "$LAMBDA_TASK_ROOT/ric/index.mjs"\n` },
    { name: 'app.mjs', content: handlerSource },
    ...ric,
  ];
}

const APP = `
let invocations = 0;
console.log('app.mjs: module loaded');
export const handler = async (event, context) => {
  invocations++;
  console.log('app.mjs: handling', JSON.stringify(event));
  if (event.fail) throw new TypeError('the app failed on purpose');
  return {
    event,
    invocations,
    awsRequestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: String(context.memoryLimitInMB),
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    remainingMs: context.getRemainingTimeInMillis(),
  };
};
`;

describe('aws-lambda-ric (the official Node.js runtime interface client) as a provided bootstrap', { skip: skipReason ?? false }, () => {
  before(async () => {
    server = await startServer();
    await deploy('ric', await ricPackage(APP), { handler: 'app.handler', memory: 256, timeout: 5 });
  });

  after(async () => {
    await server?.stop();
  });

  let first: Invocation;
  test('runs an unmodified Lambda handler: event in, result out, the Lambda context filled from the Runtime API', async () => {
    first = await invoke('ric', { hello: 'ric', n: [1, 2] });
    assert.equal(first.status, 'succeeded', explain(first));
    assert.equal(first.cold, true);
    const r = first.result;
    assert.deepEqual(r.event, { hello: 'ric', n: [1, 2] });
    assert.equal(r.awsRequestId, first.requestId);
    assert.equal(r.functionName, 'ric');
    assert.equal(r.functionVersion, '1');
    assert.equal(r.invokedFunctionArn, 'arn:aws:lambda:local:000000000000:function:ric');
    assert.equal(r.memoryLimitInMB, '256');
    assert.match(r.logGroupName, /ric$/);
    assert.ok(r.logStreamName);
    assert.ok(r.remainingMs > 0 && r.remainingMs <= 5000, `getRemainingTimeInMillis() = ${r.remainingMs}`);
    // console.log goes through the ric's log patch (timestamp, request id, level) to stdout
    const handling = first.logs.find((l) => l.message.includes('app.mjs: handling'));
    assert.ok(handling, explain(first));
    assert.ok(handling.message.includes(first.requestId), handling.message);
    assert.ok(first.logs.some((l) => l.message.includes('app.mjs: module loaded')), 'init output belongs to the cold invocation');
  });

  test('a warm invocation reuses the process (module state survives)', async () => {
    const warm = await invoke('ric', { n: 2 });
    assert.equal(warm.status, 'succeeded', explain(warm));
    assert.equal(warm.cold, false);
    assert.equal(warm.result.invocations, 2);
    assert.equal(warm.result.awsRequestId, warm.requestId);
  });

  test('a thrown error comes back with the errorType and errorMessage the ric posted', async () => {
    const inv = await invoke('ric', { fail: true });
    assert.equal(inv.status, 'failed', explain(inv));
    assert.equal(inv.error?.errorType, 'TypeError');
    assert.equal(inv.error?.errorMessage, 'the app failed on purpose');
    const next = await invoke('ric', {});
    assert.equal(next.status, 'succeeded', explain(next));
    assert.equal(next.cold, false);
  });

  test('the stack trace the ric posts (`trace`) is kept in the error', async () => {
    const inv = await invoke('ric', { fail: true });
    assert.equal(inv.status, 'failed', explain(inv));
    assert.ok(Array.isArray(inv.error?.trace) && inv.error.trace[0] === 'TypeError: the app failed on purpose', `error: ${JSON.stringify(inv.error)}`);
  });

  test('a handler module that does not exist → the ric\'s init error (Runtime.ImportModuleError)', async () => {
    await deploy('ricmissing', await ricPackage(APP), { handler: 'nope.handler', timeout: 5 });
    const inv = await invoke('ricmissing', {});
    assert.equal(inv.status, 'failed', explain(inv));
    assert.equal(inv.error?.errorType, 'Runtime.ImportModuleError');
    assert.match(inv.error!.errorMessage, /nope/);
  });
});
