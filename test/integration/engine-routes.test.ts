// HTTP routes through a real server process: a request on a route's path becomes an API
// Gateway 2.0 event, the handler's result maps back to the response, and a function error is
// a 502 JSON answer, never a hung socket.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, waitFor } from '../helpers/api.ts';

let server: RunningServer;
let api: TestApi;

before(async () => {
  server = await startServer();
  api = new TestApi(server.url, server.adminKey);
  for (const [name, dir] of [['echo', 'node-echo'], ['responder', 'node-http-response']] as const) {
    const r = await api.deployDir(name, fixture(dir), { handler: 'index.handler' });
    assert.equal(r.status, 201, r.text);
  }
});
after(async () => {
  await server?.stop();
});

/** A user route request that must answer within 10 s (a hung socket fails the test). */
function call(urlPath: string, init: RequestInit = {}): Promise<Response> {
  return fetch(server.url + urlPath, { ...init, signal: AbortSignal.timeout(10_000) });
}

async function route(method: string, path: string, fn: string): Promise<void> {
  const r = await api.addRoute(method, path, fn);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.route.path, path);
  assert.equal(r.json.route.method, method);
}

describe('HTTP routes', () => {
  test('GET /hello/{name} delivers a 2.0 event', async () => {
    await route('GET', '/hello/{name}', 'echo');
    const res = await call('/hello/bob?x=1', { headers: { 'x-custom': 'yes' } });
    assert.equal(res.status, 200);
    const event = (await res.json()) as any;
    assert.equal(event.version, '2.0');
    assert.equal(event.routeKey, 'GET /hello/{name}');
    assert.equal(event.rawPath, '/hello/bob');
    assert.equal(event.rawQueryString, 'x=1');
    assert.deepEqual(event.pathParameters, { name: 'bob' });
    assert.deepEqual(event.queryStringParameters, { x: '1' });
    assert.equal(event.requestContext.http.method, 'GET');
    assert.equal(event.requestContext.http.path, '/hello/bob');
    assert.equal(event.headers['x-custom'], 'yes');
  });

  test('a POST body reaches the event', async () => {
    await route('POST', '/echo-body', 'echo');
    const res = await call('/echo-body', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.equal(res.status, 200);
    const event = (await res.json()) as any;
    assert.equal(event.requestContext.http.method, 'POST');
    const body = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString() : event.body;
    assert.equal(body, '{"a":1}');
  });

  test('a {statusCode, headers, cookies, body} result maps to the response', async () => {
    await route('POST', '/made', 'responder');
    const res = await call('/made', { method: 'POST', body: 'x' });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-made-by'), 'aviary-test');
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.deepEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2; HttpOnly']);
    assert.equal(await res.text(), 'created /made');
  });

  test('the response\'s Content-Length is the body\'s UTF-8 length, whatever the function set', async () => {
    await route('GET', '/length', 'responder');
    const res = await call('/length?wrongLength=1');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(Buffer.byteLength('héllo wörld ✓')));
    assert.equal(await res.text(), 'héllo wörld ✓');
  });

  test('a header name, value or cookie HTTP cannot carry → 502, and the server carries on', async () => {
    await route('GET', '/bad-header', 'responder');
    for (const kind of ['name', 'value', 'cookie']) {
      const res = await call(`/bad-header?badHeader=${kind}`);
      assert.equal(res.status, 502, kind);
      assert.equal(res.headers.get('x-injected'), null);
      assert.deepEqual(await res.json(), { message: 'Internal Server Error' });
    }
    // the developer is told which header was wrong
    assert.ok(await waitFor(async () => server.output().includes('header name "bad name" is not a valid HTTP header name'), 5000), server.output());
    assert.equal((await call('/healthz')).status, 200);
    assert.equal((await call('/bad-header')).status, 201);
  });

  test('a 1xx status is a 502; hop-by-hop headers are dropped, the response framed by the server', async () => {
    await route('GET', '/framing', 'responder');
    const informational = await call('/framing?badHeader=informational');
    assert.equal(informational.status, 502);
    assert.deepEqual(await informational.json(), { message: 'Internal Server Error' });
    const hop = await call('/framing?badHeader=hopByHop');
    assert.equal(hop.status, 200);
    assert.equal(hop.headers.get('x-kept'), 'yes');
    assert.equal(hop.headers.get('transfer-encoding'), null);
    assert.equal(hop.headers.get('trailer'), null);
    assert.equal(hop.headers.get('content-length'), String('never sent'.length));
    assert.equal(await hop.text(), 'never sent');
    assert.equal((await call('/healthz')).status, 200);
  });

  test('a function error → 502 JSON, promptly', async () => {
    await route('GET', '/broken', 'responder');
    const res = await call('/broken?fail=1');
    assert.equal(res.status, 502);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = (await res.json()) as any;
    assert.equal(typeof body.message, 'string');
    // the route still works for the next request
    assert.equal((await call('/broken')).status, 201);
  });

  test('ANY /api/{proxy+} matches every method and sub-path', async () => {
    await route('ANY', '/api/{proxy+}', 'echo');
    for (const [method, path] of [['GET', '/api/a'], ['DELETE', '/api/a/b/c'], ['PUT', '/api/x/y']] as const) {
      const res = await call(path, { method, ...(method === 'PUT' ? { body: 'data' } : {}) });
      assert.equal(res.status, 200, `${method} ${path}`);
      const event = (await res.json()) as any;
      assert.equal(event.routeKey, 'ANY /api/{proxy+}');
      assert.equal(event.requestContext.http.method, method);
      assert.deepEqual(event.pathParameters, { proxy: path.slice('/api/'.length) });
    }
  });

  test('a path with no route → 404', async () => {
    const res = await call('/nothing-here');
    assert.equal(res.status, 404);
    await res.body?.cancel();
  });
});
