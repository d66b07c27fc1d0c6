// The Lambda Invoke API (POST /2015-03-31/functions/{FunctionName}/invocations) through a real
// server, driven by the real AWS SDK (@aws-sdk/client-lambda, SigV4-signed) and by plain fetch
// with a bearer token. SigV4 details: test/unit/sigv4.test.ts; name/ARN parsing: lambda-function-name.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvokeCommand, LambdaClient, type InvokeCommandInput, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, waitFor } from '../helpers/api.ts';
import { Sha256 } from '../helpers/sigv4.ts';

const ACCESS_KEY_ID = 'AKIDAVIARYTEST';
const SECRET = 'aviary-test-secret-access-key-0123456789';
const ACCOUNT = '000000000000';

let server: RunningServer;
let api: TestApi;
let lambda: LambdaClient;

function client(url: string, credentials = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET }): LambdaClient {
  // maxAttempts 1: an error is asserted as the server sent it, not after SDK retries
  return new LambdaClient({ endpoint: url, region: 'local', credentials, maxAttempts: 1 });
}

before(async () => {
  server = await startServer({ env: { AVIARY_ADMIN_ACCESS_KEY_ID: ACCESS_KEY_ID, AVIARY_ADMIN_SECRET_ACCESS_KEY: SECRET } });
  api = new TestApi(server.url, server.adminKey);
  lambda = client(server.url);
  for (const [name, dir] of [['ctx', 'node-client-context'], ['ctx', 'node-client-context'], ['thrower', 'node-throw'], ['echo', 'node-echo']] as const) {
    const r = await api.deployDir(name, fixture(dir), { handler: 'index.handler' });
    assert.equal(r.status, 201, `deploy ${name}: ${r.text}`);
  }
});
after(async () => {
  lambda?.destroy();
  await server?.stop();
});

async function invoke(input: InvokeCommandInput, c = lambda): Promise<InvokeCommandOutput & { json: any }> {
  const out = await c.send(new InvokeCommand(input));
  const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
  return { ...out, json: text === '' ? undefined : JSON.parse(text) };
}

/** The SDK's exception for a call expected to fail. */
async function sdkError(input: InvokeCommandInput, c = lambda): Promise<Error & { $metadata: { httpStatusCode?: number }; Type?: string }> {
  try {
    await c.send(new InvokeCommand(input));
  } catch (err) {
    return err as Error & { $metadata: { httpStatusCode?: number } };
  }
  assert.fail(`expected ${JSON.stringify(input).slice(0, 200)} to fail`);
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('with the AWS SDK (SigV4)', () => {
  test('RequestResponse: 200, the result as the payload, X-Amz-Executed-Version', async () => {
    const r = await invoke({ FunctionName: 'ctx', Payload: json({ name: 'ada' }) });
    assert.equal(r.StatusCode, 200);
    assert.equal(r.FunctionError, undefined);
    assert.equal(r.ExecutedVersion, '2', 'unqualified runs the newest version');
    assert.deepEqual(r.json.event, { name: 'ada' });
    assert.equal(r.json.functionVersion, '2');
    assert.equal(r.json.invokedFunctionArn, `arn:aws:lambda:local:${ACCOUNT}:function:ctx`);
  });

  test('an empty payload is the event {}', async () => {
    const r = await invoke({ FunctionName: 'echo' });
    assert.equal(r.StatusCode, 200);
    assert.deepEqual(r.json, {});
  });

  test('a function error is still 200, with FunctionError Unhandled and the error as payload', async () => {
    const r = await invoke({ FunctionName: 'thrower', Payload: json({ kind: 'error' }) });
    assert.equal(r.StatusCode, 200);
    assert.equal(r.FunctionError, 'Unhandled');
    assert.equal(r.ExecutedVersion, '1');
    assert.equal(r.json.errorType, 'TypeError');
    assert.equal(r.json.errorMessage, 'boom');
  });

  test("LogType Tail: LogResult is base64 of the log's end, with the function's output and REPORT", async () => {
    const r = await invoke({ FunctionName: 'ctx', LogType: 'Tail' });
    assert.ok(r.LogResult, 'LogResult is set');
    const log = Buffer.from(r.LogResult, 'base64').toString('utf8');
    assert.match(log, /client-context fixture invoked/);
    assert.match(log, /^START RequestId: \S+ Version: 2$/m);
    assert.match(log, /^END RequestId: /m);
    assert.match(log, /^REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB/m);
    const none = await invoke({ FunctionName: 'ctx' });
    assert.equal(none.LogResult, undefined, 'no tail unless asked for');
  });

  test('Qualifier, name:qualifier, full and partial ARNs select the function and version', async () => {
    const q = await invoke({ FunctionName: 'ctx', Qualifier: '1' });
    assert.equal(q.ExecutedVersion, '1');
    assert.equal(q.json.functionVersion, '1');
    assert.equal(q.json.invokedFunctionArn, `arn:aws:lambda:local:${ACCOUNT}:function:ctx:1`);
    const named = await invoke({ FunctionName: 'ctx:1' });
    assert.equal(named.ExecutedVersion, '1');
    const latest = await invoke({ FunctionName: 'ctx:$LATEST' });
    assert.equal(latest.ExecutedVersion, '2');
    const arn = await invoke({ FunctionName: `arn:aws:lambda:local:${ACCOUNT}:function:ctx` });
    assert.equal(arn.ExecutedVersion, '2');
    assert.equal(arn.json.functionVersion, '2');
    const arnQualified = await invoke({ FunctionName: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:ctx:1` });
    assert.equal(arnQualified.ExecutedVersion, '1');
    const partial = await invoke({ FunctionName: `${ACCOUNT}:function:ctx`, Qualifier: '1' });
    assert.equal(partial.ExecutedVersion, '1');
    const same = await invoke({ FunctionName: 'ctx:1', Qualifier: '1' });
    assert.equal(same.ExecutedVersion, '1', 'the same qualifier twice is fine');
  });

  test('a qualifier in the name and a different Qualifier → InvalidParameterValueException', async () => {
    const err = await sdkError({ FunctionName: 'ctx:1', Qualifier: '2' });
    assert.equal(err.name, 'InvalidParameterValueException');
    assert.equal(err.$metadata.httpStatusCode, 400);
    assert.match(err.message, /qualifier/);
  });

  test('DryRun: 204, checks the function exists and runs nothing', async () => {
    const r = await invoke({ FunctionName: 'ctx', InvocationType: 'DryRun' });
    assert.equal(r.StatusCode, 204);
    assert.equal(r.ExecutedVersion, '2');
    const err = await sdkError({ FunctionName: 'missing', InvocationType: 'DryRun' });
    assert.equal(err.name, 'ResourceNotFoundException');
  });

  test('ClientContext (base64 JSON) reaches context.clientContext', async () => {
    const cc = { client: { installation_id: 'i-1', app_title: 'demo' }, custom: { tenant: 't1' }, env: { platform: 'test' } };
    const r = await invoke({ FunctionName: 'ctx', ClientContext: Buffer.from(JSON.stringify(cc)).toString('base64') });
    assert.deepEqual(r.json.clientContext, cc);
    const without = await invoke({ FunctionName: 'ctx' });
    assert.equal(without.json.clientContext, null);
  });

  test('a ClientContext that is not base64 JSON → InvalidRequestContentException', async () => {
    const notBase64 = await sdkError({ FunctionName: 'ctx', ClientContext: 'not base64!' });
    assert.equal(notBase64.name, 'InvalidRequestContentException');
    assert.equal(notBase64.$metadata.httpStatusCode, 400);
    const notJson = await sdkError({ FunctionName: 'ctx', ClientContext: Buffer.from('{oops').toString('base64') });
    assert.equal(notJson.name, 'InvalidRequestContentException');
  });

  test('a payload that is not JSON → InvalidRequestContentException', async () => {
    const err = await sdkError({ FunctionName: 'echo', Payload: Buffer.from('{"a":') });
    assert.equal(err.name, 'InvalidRequestContentException');
    assert.equal(err.$metadata.httpStatusCode, 400);
    assert.equal(err.Type, 'User');
  });

  test('unknown function or version → ResourceNotFoundException naming the ARN', async () => {
    const err = await sdkError({ FunctionName: 'does-not-exist' });
    assert.equal(err.name, 'ResourceNotFoundException');
    assert.equal(err.$metadata.httpStatusCode, 404);
    assert.match(err.message, /Function not found: arn:aws:lambda:local:000000000000:function:does-not-exist/);
    const version = await sdkError({ FunctionName: 'ctx', Qualifier: '9' });
    assert.equal(version.name, 'ResourceNotFoundException');
    assert.match(version.message, /function:ctx:9/);
  });

  test('a payload over 6 MB → RequestTooLargeException (413)', async () => {
    const big = Buffer.from(JSON.stringify({ data: 'x'.repeat(6 * 1024 * 1024) }));
    const err = await sdkError({ FunctionName: 'echo', Payload: big });
    assert.equal(err.name, 'RequestTooLargeException');
    assert.equal(err.$metadata.httpStatusCode, 413);
    // the server is still fine afterwards
    assert.equal((await invoke({ FunctionName: 'echo', Payload: json({ ok: 1 }) })).StatusCode, 200);
  });

  test('a large payload under the limit round-trips', async () => {
    const event = { data: 'y'.repeat(1024 * 1024) };
    const r = await invoke({ FunctionName: 'echo', Payload: json(event) });
    assert.deepEqual(r.json, event);
  });

  test('a wrong secret → InvalidSignatureException (403)', async () => {
    const wrong = client(server.url, { accessKeyId: ACCESS_KEY_ID, secretAccessKey: 'not-the-secret-at-all-0000' });
    try {
      const err = await sdkError({ FunctionName: 'ctx' }, wrong);
      assert.equal(err.name, 'InvalidSignatureException');
      assert.equal(err.$metadata.httpStatusCode, 403);
      assert.match(err.message, /signature/i);
    } finally {
      wrong.destroy();
    }
  });

  test('an unknown access key id → UnrecognizedClientException (403)', async () => {
    const unknown = client(server.url, { accessKeyId: 'AKIDNOBODY', secretAccessKey: SECRET });
    try {
      const err = await sdkError({ FunctionName: 'ctx' }, unknown);
      assert.equal(err.name, 'UnrecognizedClientException');
      assert.equal(err.$metadata.httpStatusCode, 403);
    } finally {
      unknown.destroy();
    }
  });

  test('Event: 202 with the queued id; the queue runs it (GET /v1/invocations/{id})', async () => {
    const r = await invoke({ FunctionName: 'ctx', InvocationType: 'Event', Payload: json({ queued: true }) });
    assert.equal(r.StatusCode, 202);
    assert.equal(r.ExecutedVersion, '2');
    const id = r.$metadata.requestId;
    assert.ok(id, 'x-amzn-RequestId names the queued invocation');
    let record: any;
    const done = await waitFor(async () => {
      record = (await api.request('GET', `/v1/invocations/${id}`)).json?.invocation;
      return record?.status === 'succeeded' || record?.status === 'failed';
    }, 20_000);
    assert.ok(done, `the queued invocation finished: ${JSON.stringify(record)}`);
    assert.equal(record.status, 'succeeded');
    assert.equal(record.source, 'lambda');
    assert.deepEqual(record.result.event, { queued: true });
    const qualified = await invoke({ FunctionName: 'ctx:1', InvocationType: 'Event' });
    assert.equal(qualified.StatusCode, 202);
    assert.equal(qualified.ExecutedVersion, '1');
  });

  test('an Event payload over 256 KB → RequestTooLargeException', async () => {
    const err = await sdkError({ FunctionName: 'echo', InvocationType: 'Event', Payload: json({ d: 'z'.repeat(300 * 1024) }) });
    assert.equal(err.name, 'RequestTooLargeException');
    assert.equal(err.$metadata.httpStatusCode, 413);
  });
});

describe('with plain HTTP and a bearer token', () => {
  const invokePath = (fn: string, query = '') => `/2015-03-31/functions/${encodeURIComponent(fn)}/invocations${query}`;

  test('the same endpoint works with Authorization: Bearer', async () => {
    const r = await api.request('POST', invokePath('ctx'), '{"via":"bearer"}');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-amz-executed-version'), '2');
    assert.ok(r.headers.get('x-amzn-requestid'));
    assert.deepEqual(r.json.event, { via: 'bearer' });
  });

  test('percent-encoded ARN in the path, ?Qualifier=, Tail and DryRun', async () => {
    const r = await api.request('POST', invokePath(`arn:aws:lambda:local:${ACCOUNT}:function:ctx`, '?Qualifier=1'), '{}', { 'x-amz-log-type': 'Tail' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-amz-executed-version'), '1');
    assert.match(Buffer.from(r.headers.get('x-amz-log-result') ?? '', 'base64').toString(), /client-context fixture invoked/);
    const dry = await api.request('POST', invokePath('ctx'), undefined, { 'x-amz-invocation-type': 'DryRun' });
    assert.equal(dry.status, 204);
    assert.equal(dry.headers.get('x-amz-executed-version'), '2');
  });

  test('a function error: 200 with X-Amz-Function-Error', async () => {
    const r = await api.request('POST', invokePath('thrower'), '{"kind":"custom"}');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-amz-function-error'), 'Unhandled');
    assert.equal(r.json.errorMessage, 'invalid input');
  });

  test('missing or unknown credentials → 403 with a Lambda-shaped error', async () => {
    const anon = new TestApi(server.url);
    const missing = await anon.request('POST', invokePath('ctx'), '{}');
    assert.equal(missing.status, 403);
    assert.equal(missing.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
    assert.equal(missing.json.Type, 'User');
    assert.match(missing.json.Message, /Bearer|SigV4/);
    const unknown = await new TestApi(server.url, 'not-a-key').request('POST', invokePath('ctx'), '{}');
    assert.equal(unknown.status, 403);
    assert.equal(unknown.headers.get('x-amzn-errortype'), 'UnrecognizedClientException');
  });

  test('bad headers → 400 InvalidParameterValueException; other Lambda operations → UnknownOperationException', async () => {
    const badType = await api.request('POST', invokePath('ctx'), '{}', { 'x-amz-invocation-type': 'Sometimes' });
    assert.equal(badType.status, 400);
    assert.equal(badType.headers.get('x-amzn-errortype'), 'InvalidParameterValueException');
    assert.match(badType.json.Message, /RequestResponse, Event, DryRun/);
    const badLog = await api.request('POST', invokePath('ctx'), '{}', { 'x-amz-log-type': 'Everything' });
    assert.equal(badLog.status, 400);
    const badName = await api.request('POST', invokePath('arn:aws:s3:::bucket'), '{}');
    assert.equal(badName.status, 400);
    assert.equal(badName.headers.get('x-amzn-errortype'), 'InvalidParameterValueException');
    const other = await api.request('GET', '/2015-03-31/functions/ctx/configuration');
    assert.equal(other.status, 404);
    assert.equal(other.headers.get('x-amzn-errortype'), 'UnknownOperationException');
  });

  test('/v1 keeps its own error shape', async () => {
    const r = await api.request('GET', '/v1/functions/does-not-exist');
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'FunctionNotFound');
    assert.equal(r.headers.get('x-amzn-errortype'), null);
  });
});

describe('SigV4 on /v1', () => {
  async function signedFetch(method: string, urlPath: string, body: string | undefined, secret = SECRET): Promise<Response> {
    const url = new URL(server.url + urlPath);
    const signer = new SignatureV4({ service: 'lambda', region: 'local', credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: secret }, sha256: Sha256 });
    const headers: Record<string, string> = { host: url.host, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    const query = Object.fromEntries(url.searchParams);
    const signed = await signer.sign({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query, headers, body });
    return fetch(url, { method, headers: signed.headers as Record<string, string>, body });
  }

  test('a SigV4-signed request is accepted on the management API too', async () => {
    const list = await signedFetch('GET', '/v1/functions?x=1', undefined);
    assert.equal(list.status, 200);
    const names = ((await list.json()) as { functions: { name: string }[] }).functions.map((f) => f.name);
    assert.ok(names.includes('ctx'), names.join());
    const inv = await signedFetch('POST', '/v1/functions/echo/invocations', '{"signed":true}');
    assert.equal(inv.status, 200);
    assert.deepEqual(((await inv.json()) as { result: unknown }).result, { signed: true });
  });

  test('a bad signature on /v1 is a /v1 401', async () => {
    const r = await signedFetch('GET', '/v1/functions', undefined, 'wrong-secret-wrong-secret');
    assert.equal(r.status, 401);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'Unauthorized');
    assert.match(body.error.message, /signature/i);
  });
});

describe('credentials on first start', () => {
  test('without presets: random credentials in admin.credentials (0600), sealed in the database, still valid after a restart', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'aviary-lambda-creds-'));
    let accessKeyId: string | undefined;
    let secretAccessKey: string | undefined;
    try {
      const first = await startServer({ dataDir });
      try {
        const credsFile = path.join(dataDir, 'admin.credentials');
        const text = await readFile(credsFile, 'utf8');
        accessKeyId = /^aws_access_key_id = (\S+)$/m.exec(text)?.[1];
        secretAccessKey = /^aws_secret_access_key = (\S+)$/m.exec(text)?.[1];
        assert.ok(accessKeyId && secretAccessKey, text);
        assert.match(text, /^\[default\]$/m);
        const secret = secretAccessKey;
        // the banner follows the "listening" line the helper waits for
        assert.ok(await waitFor(async () => first.output().includes(secret), 5000), `the banner prints the secret once:\n${first.output()}`);
        assert.equal((await stat(credsFile)).mode & 0o777, 0o600);
        assert.equal((await stat(path.join(dataDir, 'master.key'))).mode & 0o777, 0o600);
        const deployed = await new TestApi(first.url, first.adminKey).deployDir('echo', fixture('node-echo'), { handler: 'index.handler' });
        assert.equal(deployed.status, 201, deployed.text);
        for (const file of ['aviary.db', 'aviary.db-wal']) {
          const bytes = await readFile(path.join(dataDir, file)).catch(() => Buffer.alloc(0));
          assert.equal(bytes.includes(secret), false, `${file} does not hold the secret in clear`);
        }
      } finally {
        await first.stop();
      }

      const again = await startServer({ dataDir });
      const c = client(again.url, { accessKeyId, secretAccessKey });
      try {
        assert.ok(!again.output().includes(secretAccessKey), 'a restart prints no credentials');
        const r = await invoke({ FunctionName: 'echo', Payload: json({ after: 'restart' }) }, c);
        assert.deepEqual(r.json, { after: 'restart' });
      } finally {
        c.destroy();
        await again.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
