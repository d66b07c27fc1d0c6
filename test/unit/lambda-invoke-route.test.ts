// The Lambda Invoke route on a bare Fastify instance with fake parts (no server process): the
// Event path through an AsyncInvoker, and errors mapped to Lambda's shapes. The real thing end to
// end, with the AWS SDK: test/integration/lambda-invoke-api.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { lambdaApi, type LambdaDeps } from '../../src/http/lambda/index.ts';
import type { AsyncEventInput, AsyncInvoker } from '../../src/async/types.ts';
import { DEFAULT_LIMITS } from '../../src/server/config.ts';
import { AviaryError } from '../../src/shared/errors.ts';

function app(options: { asyncInvoker?: AsyncInvoker; invoke?: () => Promise<unknown> } = {}): FastifyInstance {
  const deps = {
    limits: DEFAULT_LIMITS,
    registry: {
      resolve(_ns: string, name: string, qualifier?: string | null) {
        if (name !== 'hello') throw new AviaryError('FunctionNotFound', `function ${name} does not exist`);
        if (qualifier && qualifier !== '3' && qualifier !== '$LATEST') throw new AviaryError('VersionNotFound', `function hello has no version "${qualifier}"`);
        return { fn: { name: 'hello' }, version: { version: 3, memory: 128 } };
      },
    },
    invoker: { invoke: options.invoke ?? (async () => assert.fail('RequestResponse is not expected here')) },
    asyncInvoker: options.asyncInvoker,
  } as unknown as LambdaDeps;
  const a = Fastify();
  a.decorateRequest('principal', null);
  a.addHook('onRequest', async (req) => {
    req.principal = { keyId: 'k', namespace: 'ns1', role: 'admin' };
  });
  a.register(lambdaApi(deps), { prefix: '/2015-03-31' });
  return a;
}

function queue(): AsyncInvoker & { inputs: AsyncEventInput[] } {
  const inputs: AsyncEventInput[] = [];
  return { inputs, enqueue: async (input) => (inputs.push(input), { id: `ev-${inputs.length}`, duplicate: false }) };
}

const url = (fn: string, q = '') => `/2015-03-31/functions/${encodeURIComponent(fn)}/invocations${q}`;
const EVENT = { 'x-amz-invocation-type': 'Event' };

describe('Event invocations', () => {
  test('202 with the queued id; the event goes to the AsyncInvoker as received, with the qualifier', async () => {
    const q = queue();
    const a = app({ asyncInvoker: q });
    const r = await a.inject({ method: 'POST', url: url('hello', '?Qualifier=3'), headers: EVENT, payload: '{"n": 1}' });
    assert.equal(r.statusCode, 202);
    assert.equal(r.body, '');
    assert.equal(r.headers['x-amzn-requestid'], 'ev-1');
    assert.equal(r.headers['x-amz-executed-version'], '3');
    assert.deepEqual(q.inputs, [{ namespace: 'ns1', functionRef: 'hello:3', eventJson: '{"n": 1}', source: 'lambda' }]);
    const arn = await a.inject({ method: 'POST', url: url('arn:aws:lambda:local:000000000000:function:hello'), headers: EVENT });
    assert.equal(arn.statusCode, 202);
    assert.deepEqual(q.inputs[1], { namespace: 'ns1', functionRef: 'hello', eventJson: '{}', source: 'lambda' });
  });

  test('unknown function, bad JSON or over 256 KB: an error and nothing queued', async () => {
    const q = queue();
    const a = app({ asyncInvoker: q });
    const missing = await a.inject({ method: 'POST', url: url('nope'), headers: EVENT, payload: '{}' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.headers['x-amzn-errortype'], 'ResourceNotFoundException');
    assert.match(missing.json().Message, /^Function not found: arn:aws:lambda:local:000000000000:function:nope/);
    const badVersion = await a.inject({ method: 'POST', url: url('hello:9'), headers: EVENT, payload: '{}' });
    assert.equal(badVersion.statusCode, 404);
    const bad = await a.inject({ method: 'POST', url: url('hello'), headers: EVENT, payload: '{' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.headers['x-amzn-errortype'], 'InvalidRequestContentException');
    const big = await a.inject({ method: 'POST', url: url('hello'), headers: EVENT, payload: JSON.stringify({ d: 'x'.repeat(257 * 1024) }) });
    assert.equal(big.statusCode, 413);
    assert.equal(big.headers['x-amzn-errortype'], 'RequestTooLargeException');
    assert.match(big.json().Message, /262144 bytes/);
    assert.deepEqual(q.inputs, []);
  });
});

describe('errors from the invoke pipeline', () => {
  test('TooManyRequests → 429 TooManyRequestsException with Retry-After and a Reason', async () => {
    const a = app({ invoke: async () => { throw new AviaryError('TooManyRequests', 'function hello is at its max instances', { retryAfter: 2 }); } });
    const r = await a.inject({ method: 'POST', url: url('hello'), payload: '{}' });
    assert.equal(r.statusCode, 429);
    assert.equal(r.headers['x-amzn-errortype'], 'TooManyRequestsException');
    assert.equal(r.headers['retry-after'], '2');
    assert.deepEqual(r.json(), { Type: 'User', Message: 'function hello is at its max instances', Reason: 'ConcurrentInvocationLimitExceeded' });
  });

  test('a platform failure → ServiceException with Type Service; internal details stay in the log', async () => {
    const sandbox = await app({ invoke: async () => { throw new AviaryError('SandboxFailed', 'could not start an instance: spawn failed'); } })
      .inject({ method: 'POST', url: url('hello'), payload: '{}' });
    assert.equal(sandbox.statusCode, 502);
    assert.deepEqual(sandbox.json(), { Type: 'Service', Message: 'could not start an instance: spawn failed' });
    const internal = await app({ invoke: async () => { throw new Error('secret internals'); } }).inject({ method: 'POST', url: url('hello'), payload: '{}' });
    assert.equal(internal.statusCode, 500);
    assert.equal(internal.headers['x-amzn-errortype'], 'ServiceException');
    assert.ok(!internal.body.includes('secret internals'));
  });
});
