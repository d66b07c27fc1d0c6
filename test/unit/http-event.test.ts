import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRequestTime, isTextContentType, parseQuery, toHttpApiEvent, type TriggerRequest } from '../../src/http/triggers/event.ts';

function request(over: Partial<TriggerRequest> = {}): TriggerRequest {
  return {
    method: 'GET',
    url: '/hello',
    headers: { host: 'localhost:8080', 'user-agent': 'curl/8.5.0' },
    body: Buffer.alloc(0),
    sourceIp: '127.0.0.1',
    requestId: 'req-1',
    timeEpoch: 1_800_000_000_000,
    httpVersion: '1.1',
    ...over,
  };
}

const plainMatch = { routeKey: 'GET /hello', pathParameters: undefined };

/** What the function receives: the event after JSON serialization. */
function wire(ev: unknown): unknown {
  return JSON.parse(JSON.stringify(ev));
}

test('reproduces the AWS documentation sample 2.0 event (minus authorizer/authentication/stageVariables)', () => {
  const ev = toHttpApiEvent(
    {
      method: 'POST',
      url: '/my/path?parameter1=value1&parameter1=value2&parameter2=value',
      headers: {
        header1: ['value1'],
        header2: ['value1', 'value2'],
        cookie: ['cookie1; cookie2'],
        host: ['id.execute-api.us-east-1.amazonaws.com'],
        'user-agent': ['agent'],
        'content-type': ['text/plain'],
      },
      body: Buffer.from('Hello from Lambda'),
      sourceIp: '192.0.2.1',
      requestId: 'id',
      timeEpoch: 1583348638390,
      httpVersion: '1.1',
    },
    { routeKey: 'POST /my/{parameter1}', pathParameters: { parameter1: 'path' } },
  );
  // AWS's sample pairs time "12/Mar/2020…" with timeEpoch 1583348638390, which is 04/Mar; the epoch wins here.
  assert.deepStrictEqual(wire(ev), {
    version: '2.0',
    routeKey: 'POST /my/{parameter1}',
    rawPath: '/my/path',
    rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
    cookies: ['cookie1', 'cookie2'],
    headers: {
      header1: 'value1',
      header2: 'value1,value2',
      host: 'id.execute-api.us-east-1.amazonaws.com',
      'user-agent': 'agent',
      'content-type': 'text/plain',
    },
    queryStringParameters: { parameter1: 'value1,value2', parameter2: 'value' },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'aviary',
      domainName: 'id.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'id',
      http: { method: 'POST', path: '/my/path', protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'agent' },
      requestId: 'id',
      routeKey: 'POST /my/{parameter1}',
      stage: '$default',
      time: '04/Mar/2020:19:03:58 +0000',
      timeEpoch: 1583348638390,
    },
    body: 'Hello from Lambda',
    pathParameters: { parameter1: 'path' },
    isBase64Encoded: false,
  });
  // Same key order as AWS's sample.
  assert.deepStrictEqual(Object.keys(ev), [
    'version', 'routeKey', 'rawPath', 'rawQueryString', 'cookies', 'headers', 'queryStringParameters',
    'requestContext', 'body', 'pathParameters', 'isBase64Encoded',
  ]);
});

test('a bare GET omits cookies, queryStringParameters, body and pathParameters', () => {
  const ev = toHttpApiEvent(request(), plainMatch);
  assert.deepStrictEqual(wire(ev), {
    version: '2.0',
    routeKey: 'GET /hello',
    rawPath: '/hello',
    rawQueryString: '',
    headers: { host: 'localhost:8080', 'user-agent': 'curl/8.5.0' },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'aviary',
      domainName: 'localhost:8080',
      domainPrefix: 'localhost',
      http: { method: 'GET', path: '/hello', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'curl/8.5.0' },
      requestId: 'req-1',
      routeKey: 'GET /hello',
      stage: '$default',
      time: '15/Jan/2027:08:00:00 +0000',
      timeEpoch: 1_800_000_000_000,
    },
    isBase64Encoded: false,
  });
  for (const k of ['cookies', 'queryStringParameters', 'body', 'pathParameters']) assert.equal(k in ev, false, k);
});

test('cookies: split on ";", cookie header removed, several cookie headers combined', () => {
  const one = toHttpApiEvent(request({ headers: { host: 'h', cookie: 'a=1; b=2;c=3; ' } }), plainMatch);
  assert.deepStrictEqual(one.cookies, ['a=1', 'b=2', 'c=3']);
  assert.equal('cookie' in one.headers, false);
  const many = toHttpApiEvent(request({ headers: { host: ['h'], cookie: ['a=1; b=2', 'c=3'] } }), plainMatch);
  assert.deepStrictEqual(many.cookies, ['a=1', 'b=2', 'c=3']);
  const empty = toHttpApiEvent(request({ headers: { host: 'h', cookie: '' } }), plainMatch);
  assert.equal('cookies' in empty, false);
  assert.equal('cookie' in empty.headers, false);
});

test('headers: repeated values joined with ",", node-joined strings kept, pseudo-headers dropped', () => {
  const ev = toHttpApiEvent(
    request({ headers: { host: ['h'], 'x-multi': ['1', '2', '3'], accept: ['a/b'], ':authority': ['h'] } }),
    plainMatch,
  );
  assert.deepStrictEqual(wire(ev.headers), { host: 'h', 'x-multi': '1,2,3', accept: 'a/b' });
  const nodeStyle = toHttpApiEvent(request({ headers: { host: 'h', 'x-multi': '1, 2' } }), plainMatch);
  assert.equal(nodeStyle.headers['x-multi'], '1, 2');
  assert.equal(nodeStyle.requestContext.http.userAgent, '');
});

test('query strings: decoded, repeated keys joined, odd pieces handled', () => {
  assert.deepStrictEqual(wire(parseQuery('a=1&a=2&b=x%20y&c=p+q&d&e=&&=orphan&f=a%3Db%26c')), {
    a: '1,2',
    b: 'x y',
    c: 'p q',
    d: '',
    e: '',
    f: 'a=b&c',
  });
  assert.deepStrictEqual(wire(parseQuery('k%C3%A9y=v%C3%A4l&bad=%zz&x=%E0%A4%A')), { 'kéy': 'väl', bad: '%zz', x: '%E0%A4%A' });
  assert.equal(parseQuery('&&'), undefined);
  const protoish = parseQuery('__proto__=1&constructor=2&toString=3&__proto__=4')!;
  assert.equal(Object.getPrototypeOf(protoish), Object.prototype);
  assert.equal(JSON.stringify(protoish), '{"__proto__":"1,4","constructor":"2","toString":"3"}');
  const ev = toHttpApiEvent(request({ url: '/hello?x=1&x=2' }), plainMatch);
  assert.equal(ev.rawQueryString, 'x=1&x=2');
  assert.deepStrictEqual(wire(ev.queryStringParameters), { x: '1,2' });
  const onlyQ = toHttpApiEvent(request({ url: '/hello?' }), plainMatch);
  assert.equal(onlyQ.rawQueryString, '');
  assert.equal('queryStringParameters' in onlyQ, false);
});

test('rawPath stays as received, requestContext.http.path is decoded except %25', () => {
  const ev = toHttpApiEvent(request({ url: '/files/a%20b/%C3%A9/100%25/x%2Fy?q=1' }), plainMatch);
  assert.equal(ev.rawPath, '/files/a%20b/%C3%A9/100%25/x%2Fy');
  assert.equal(ev.requestContext.http.path, '/files/a b/é/100%25/x/y');
  const bad = toHttpApiEvent(request({ url: '/a%zz' }), plainMatch);
  assert.equal(bad.requestContext.http.path, '/a%zz');
});

test('text bodies are strings, everything else is base64 (AWS HTTP API rule)', () => {
  const text = ['text/plain', 'text/html; charset=utf-8', 'TEXT/CSV', 'application/json', 'application/json; charset=UTF-8', 'Application/XML', 'application/javascript', 'text/x'];
  for (const ct of text) {
    const ev = toHttpApiEvent(request({ method: 'POST', headers: { host: 'h', 'content-type': ct }, body: Buffer.from('{"é":1}') }), plainMatch);
    assert.equal(ev.isBase64Encoded, false, ct);
    assert.equal(ev.body, '{"é":1}', ct);
  }
  const binary = ['application/octet-stream', 'image/png', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/vnd.api+json', 'application/graphql'];
  const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]);
  for (const ct of binary) {
    const ev = toHttpApiEvent(request({ method: 'POST', headers: { host: 'h', 'content-type': ct }, body: bytes }), plainMatch);
    assert.equal(ev.isBase64Encoded, true, ct);
    assert.deepStrictEqual(Buffer.from(ev.body!, 'base64'), bytes, ct);
  }
  const noType = toHttpApiEvent(request({ method: 'POST', body: Buffer.from('hi') }), plainMatch);
  assert.equal(noType.isBase64Encoded, true);
  assert.equal(noType.body, 'aGk=');
  assert.equal(isTextContentType(undefined), false);
  assert.equal(isTextContentType(' text/plain ;x=y'), true);
});

test('an empty body is omitted whatever the content type', () => {
  const ev = toHttpApiEvent(request({ method: 'POST', headers: { host: 'h', 'content-type': 'application/octet-stream' } }), plainMatch);
  assert.equal('body' in ev, false);
  assert.equal(ev.isBase64Encoded, false);
});

test('requestContext details: protocol, domain prefix, time format', () => {
  const ev = toHttpApiEvent(request({ httpVersion: '2.0', headers: { host: 'api.example.com' } }), plainMatch);
  assert.equal(ev.requestContext.http.protocol, 'HTTP/2.0');
  assert.equal(ev.requestContext.domainPrefix, 'api');
  assert.equal(toHttpApiEvent(request({ headers: {} }), plainMatch).requestContext.domainName, '');
  assert.equal(toHttpApiEvent(request({ headers: { host: 'single' } }), plainMatch).requestContext.domainPrefix, 'single');
  assert.equal(toHttpApiEvent(request({ headers: { host: '[::1]:8080' } }), plainMatch).requestContext.domainPrefix, '[::1]:8080');
  assert.equal(formatRequestTime(Date.UTC(2026, 10, 22, 16, 20, 1, 999)), '22/Nov/2026:16:20:01 +0000');
  assert.equal(formatRequestTime(Date.UTC(2026, 10, 22, 16, 20, 2)), '22/Nov/2026:16:20:02 +0000');
  assert.equal(formatRequestTime(Date.UTC(2027, 0, 5, 3, 4, 5)), '05/Jan/2027:03:04:05 +0000');
});

test('path parameters come from the match', () => {
  const ev = toHttpApiEvent(request({ url: '/hello/w%C3%B6rld' }), { routeKey: 'ANY /hello/{name}', pathParameters: { name: 'wörld' } });
  assert.equal(ev.routeKey, 'ANY /hello/{name}');
  assert.equal(ev.requestContext.routeKey, 'ANY /hello/{name}');
  assert.deepStrictEqual(ev.pathParameters, { name: 'wörld' });
});
