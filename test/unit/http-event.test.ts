import { test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import {
  formatRequestTime,
  httpApiEventJson,
  isTextContentType,
  parseQuery,
  toHttpApiEvent,
  type RawTriggerRequest,
  type TriggerRequest,
} from '../../src/http/triggers/event.ts';
import { RouteTable, type RouteMatch } from '../../src/http/triggers/routes.ts';

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

// ---- httpApiEventJson: the hot path's text must equal JSON.stringify(toHttpApiEvent(headersDistinct)) ----

/** One request as node:http handed it over: both input shapes, built from the same IncomingMessage. */
interface Captured {
  raw: RawTriggerRequest;
  distinct: TriggerRequest;
  /** node's `req.headers`, for contrast (joins repeats with ", ", keeps only the first host/user-agent…). */
  nodeHeaders: IncomingHttpHeaders;
}

function capture(req: IncomingMessage, body: Buffer): Captured {
  const common = {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    body,
    sourceIp: req.socket.remoteAddress ?? '',
    requestId: 'f0e1d2c3-b4a5-4697-8899-aabbccddeeff',
    timeEpoch: Date.now(),
    httpVersion: req.httpVersion,
  };
  return {
    raw: { ...common, rawHeaders: req.rawHeaders },
    distinct: { ...common, headers: req.headersDistinct },
    nodeHeaders: req.headers,
  };
}

/**
 * A real node:http server (strict parser, and a lenient one that admits control characters)
 * that records each request; requests go over raw sockets so the header bytes, repeats and
 * casing are exactly what the case says.
 */
async function startCaptureServers(): Promise<{ send: (bytes: Buffer, lenient?: boolean) => Promise<Captured>; close: () => Promise<void> }> {
  const waiting: Array<(c: Captured) => void> = [];
  const onRequest = (req: IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      waiting.shift()?.(capture(req, Buffer.concat(chunks)));
      res.end('ok');
    });
  };
  const strict = http.createServer(onRequest);
  const lenient = http.createServer({ insecureHTTPParser: true }, onRequest);
  await Promise.all([strict, lenient].map(async (srv) => {
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
  }));
  const send = async (bytes: Buffer, useLenient = false): Promise<Captured> => {
    const got = new Promise<Captured>((resolve) => waiting.push(resolve));
    const port = ((useLenient ? lenient : strict).address() as AddressInfo).port;
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    // in small pieces, so node's parser also sees headers split across reads
    for (let i = 0; i < bytes.length; i += 97) {
      socket.write(bytes.subarray(i, i + 97));
      await new Promise((r) => setImmediate(r));
    }
    let response = '';
    socket.setEncoding('latin1').on('data', (d: string) => (response += d));
    await once(socket, 'close');
    assert.match(response, /^HTTP\/1\.1 200 /, `node refused the request: ${response.split('\r\n')[0]}`);
    return got;
  };
  const close = async (): Promise<void> => {
    await Promise.all([strict, lenient].map((srv) => new Promise((r) => srv.close(r))));
  };
  return { send, close };
}

/** An HTTP/1.x request: `Connection: close` and, with a body, `Content-Length` appended. */
function h1(requestLine: string, headerLines: string[], body?: string | Buffer): Buffer {
  const b = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const lines = [requestLine, ...headerLines, 'Connection: close'];
  if (body !== undefined) lines.push(`Content-Length: ${b.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), b]);
}

const routes = new RouteTable<string>();
for (const [method, path] of [
  ['GET', '/hello'],
  ['ANY', '/users/{id}/orders'],
  ['POST', '/items/{name}'],
  ['ANY', '/files/{proxy+}'],
  ['ANY', '/{proxy+}'],
] as const) routes.add(method, path, `${method} ${path}`);

function matchFor(req: RawTriggerRequest): Pick<RouteMatch<unknown>, 'routeKey' | 'pathParameters'> {
  const q = req.url.indexOf('?');
  return routes.match(req.method, q === -1 ? req.url : req.url.slice(0, q)) ?? { routeKey: '$default', pathParameters: undefined };
}

const BROWSER_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36';

const equivalenceCases: Array<{ name: string; bytes: Buffer; lenient?: boolean }> = [
  { name: 'wrk-like GET', bytes: h1('GET /hello HTTP/1.1', ['Host: localhost:8080', 'User-Agent: wrk/4.2.0', 'Accept: */*']) },
  {
    name: 'browser-like GET with cookies and query',
    bytes: h1('GET /users/42/orders?page=2&sort=desc&filter=open%20items&tag=a&tag=b HTTP/1.1', [
      'Host: api.example.com',
      'sec-ch-ua: "Chromium";v="128", "Not;A=Brand";v="24"',
      'sec-ch-ua-mobile: ?0',
      'Upgrade-Insecure-Requests: 1',
      `User-Agent: ${BROWSER_UA}`,
      'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      'Sec-Fetch-Site: none',
      'Accept-Encoding: gzip, deflate, br, zstd',
      'Accept-Language: en-GB,en-US;q=0.9,en;q=0.8',
      'Cookie: _ga=GA1.1.123.456; session=eyJhbGciOiJIUzI1NiJ9.e30.abc; theme=dark',
    ]),
  },
  {
    name: 'repeated headers in mixed case, including host, user-agent and content-type',
    bytes: h1('POST /items/w%C3%B6rld HTTP/1.1', [
      'Host: a.example.com',
      'X-Multi: 1',
      'x-multi: 2',
      'Content-Type: text/plain',
      'X-MULTI: 3',
      'User-Agent: first',
      'HOST: b.example.com',
      'user-agent: second',
      'content-type: application/octet-stream',
      'Accept: a/b',
      'Accept: c/d',
      'Authorization: one',
      'authorization: two',
    ], 'text or not'),
  },
  {
    name: 'several cookie headers, empty ones and odd spacing',
    bytes: h1('GET /hello HTTP/1.1', ['Host: h', 'Cookie: a=1; b=2;c=3; ', 'X-Between: x', 'cookie:', 'COOKIE: d=4', 'Cookie:  ;  ; e=5 ;']),
  },
  { name: 'only an empty cookie header', bytes: h1('GET /hello HTTP/1.1', ['Host: h', 'Cookie: ']) },
  {
    name: '__proto__ and other Object.prototype names as header and query keys',
    bytes: h1('GET /hello?__proto__=1&constructor=2&toString=3&__proto__=4&hasOwnProperty HTTP/1.1', [
      'Host: h',
      '__proto__: p1',
      'Constructor: c',
      'toString: t',
      '__PROTO__: p2',
      'hasOwnProperty: o',
      'valueOf: v',
    ]),
  },
  {
    name: 'integer-like header names (array-index keys sort first in a JS object)',
    bytes: h1('GET /hello HTTP/1.1', ['Host: h', '123: a', 'X-A: b', '5: c', '0: d', '4294967295: e', '4294967294: f', '007: g', '1e3: h', '5: again']),
  },
  {
    name: 'quotes, backslashes, tabs and latin1 bytes in header values; every token character in a name',
    bytes: Buffer.concat([
      h1('GET /hello HTTP/1.1', ['Host: h', 'X-Q: "quoted" \\back\\ \'single\'', 'X-Tab: a\tb', "!#$%&'*+-.^_`|~: token"]).subarray(0, -2),
      Buffer.from('X-Bytes: '),
      Buffer.from([0x80, 0xe2, 0x80, 0xa8, 0xc3, 0xa9, 0xff]),
      Buffer.from('\r\n\r\n'),
    ]),
  },
  {
    name: 'control characters in header values (lenient parser)',
    lenient: true,
    bytes: h1('GET /hello HTTP/1.1', ['Host: h', 'X-Ctl: a\x01b\x1fc\x7fd', 'User-Agent: agent\x00x', 'X-Fold: a', '  folded']),
  },
  {
    name: 'quotes, backslashes and escapes in path and query',
    bytes: h1('GET /files/"a"/b\\c/%22q%22/%5C/%00/%E2%80%A8/%F0%9F%A6%9C/100%25/%zz?x="y"&z=\\&n=%00%1F&u=%E2%80%A9%F0%9F%A6%9C&bad=%E0%A4%A HTTP/1.1', ['Host: h']),
  },
  {
    name: 'query strings: repeats, encoding, +, empty keys and values',
    bytes: h1('GET /hello?a=1&a=2&b=x%20y&c=p+q&d&e=&&=orphan&f=a%3Db%26c&k%C3%A9y=v%C3%A4l&a=3 HTTP/1.1', ['Host: h']),
  },
  { name: 'a lone "?"', bytes: h1('GET /hello? HTTP/1.1', ['Host: h']) },
  { name: 'quotes alone in path, host and user-agent', bytes: h1('GET /files/"only"/quotes HTTP/1.1', ['Host: "h"', 'User-Agent: "quoted" agent']) },
  { name: 'only separators in the query', bytes: h1('GET /hello?&& HTTP/1.1', ['Host: h']) },
  { name: 'greedy proxy parameter', bytes: h1('DELETE /files/a/b%20c/d.txt?v=1 HTTP/1.1', ['Host: files.example.com:8443']) },
  { name: 'catch-all route at the root', bytes: h1('GET / HTTP/1.1', ['Host: h']) },
  { name: 'no host header (HTTP/1.0)', bytes: Buffer.from('GET /hello HTTP/1.0\r\n\r\n') },
  { name: 'no headers at all but a body (HTTP/1.0)', bytes: Buffer.from('POST /items/x HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc') },
  { name: 'IPv6 host', bytes: h1('GET /hello HTTP/1.1', ['Host: [::1]:8080']) },
  { name: 'IPv6 host without port', bytes: h1('PUT /users/%F0%9F%A6%9C/orders HTTP/1.1', ['Host: [2001:db8::1]']) },
  { name: 'absolute-form request target', bytes: h1('GET http://example.com/abs?q=1 HTTP/1.1', ['Host: example.com']) },
  { name: 'asterisk-form request target', bytes: h1('OPTIONS * HTTP/1.1', ['Host: h']) },
  { name: 'empty body with a binary content type', bytes: h1('POST /items/x HTTP/1.1', ['Host: h', 'Content-Type: application/octet-stream'], '') },
  {
    name: 'text JSON body with unicode, quotes and control characters',
    bytes: h1('POST /items/x HTTP/1.1', ['Host: h', 'Content-Type: application/json; charset=utf-8'], '{"k":"v \\"q\\" \u00e9 \u2028 \u{1F99C}\t\u0001\n"}'),
  },
  {
    name: 'text body with invalid UTF-8',
    bytes: h1('POST /items/x HTTP/1.1', ['Host: h', 'Content-Type: TEXT/Plain'], Buffer.from([0x61, 0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x62])),
  },
  {
    name: 'binary body',
    bytes: h1('POST /items/x HTTP/1.1', ['Host: h', 'Content-Type: image/png'], Buffer.from([0, 1, 2, 0x22, 0x5c, 0xff, 0xfe, 0x80, 0x0a])),
  },
  { name: 'body without a content type', bytes: h1('PATCH /items/x HTTP/1.1', ['Host: h'], 'plain') },
  { name: 'form body (base64 on AWS)', bytes: h1('POST /items/x HTTP/1.1', ['Host: h', 'Content-Type: application/x-www-form-urlencoded'], 'a=1&b=%22') },
  {
    name: 'chunked body with a trailer (trailers are not headers)',
    bytes: Buffer.from('POST /items/x HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Tr\r\nConnection: close\r\n\r\n2\r\nhi\r\n3\r\n!!!\r\n0\r\nX-Tr: t\r\n\r\n'),
  },
  {
    name: 'many headers arriving in several reads',
    bytes: h1('GET /hello HTTP/1.1', [
      'Host: h',
      ...Array.from({ length: 150 }, (_, i) => `X-H${i % 37}: value-${i}`),
      ...Array.from({ length: 20 }, (_, i) => `Cookie: c${i}=${i}`),
    ]),
  },
];

test('httpApiEventJson equals JSON.stringify(toHttpApiEvent) with headersDistinct, for real node:http requests', async (t) => {
  const servers = await startCaptureServers();
  try {
    for (const c of equivalenceCases) {
      await t.test(c.name, async () => {
        const got = await servers.send(c.bytes, c.lenient);
        const match = matchFor(got.raw);
        const expected = JSON.stringify(toHttpApiEvent(got.distinct, match));
        assert.equal(httpApiEventJson(got.raw, match), expected);
        // and with no path parameters / another route key
        const bare = { routeKey: 'ANY /{proxy+}', pathParameters: undefined };
        assert.equal(httpApiEventJson(got.raw, bare), JSON.stringify(toHttpApiEvent(got.distinct, bare)));
      });
    }
  } finally {
    await servers.close();
  }
});

/** node's own `headersDistinct` computation (IncomingMessage's getter) for a raw header list. */
function nodeHeadersDistinct(rawHeaders: string[]): NodeJS.Dict<string[]> {
  const msg = new http.IncomingMessage(new net.Socket());
  (msg as unknown as { _addHeaderLines(headers: string[], n: number): void })._addHeaderLines(rawHeaders, rawHeaders.length);
  return msg.headersDistinct;
}

test('httpApiEventJson skips HTTP/2 pseudo-headers (raw headers of a real node:http2 request)', async () => {
  const srv = http2.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const seen = new Promise<{ rawHeaders: string[]; url: string; httpVersion: string }>((resolve) => {
    srv.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      resolve({ rawHeaders: req.rawHeaders, url: req.url, httpVersion: req.httpVersion });
      res.end();
    });
  });
  const client = http2.connect(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`);
  try {
    const stream = client.request({ ':method': 'POST', ':path': '/users/7/orders?x=1', 'X-A': '1', cookie: ['a=1', 'b=2'], 'x-m': ['1', '2'], 'content-type': 'text/plain' });
    stream.end('h2 body');
    stream.resume();
    await once(stream, 'end');
    const { rawHeaders, url, httpVersion } = await seen;
    assert.ok(rawHeaders.some((n, i) => i % 2 === 0 && n.startsWith(':')), 'node:http2 lists pseudo-headers in rawHeaders');
    const common = { method: 'POST', url, body: Buffer.from('h2 body'), sourceIp: '127.0.0.1', requestId: 'r', timeEpoch: Date.now(), httpVersion };
    const match = matchFor({ ...common, rawHeaders });
    const json = httpApiEventJson({ ...common, rawHeaders }, match);
    assert.equal(json, JSON.stringify(toHttpApiEvent({ ...common, headers: nodeHeadersDistinct(rawHeaders) }, match)));
    const ev = JSON.parse(json) as { headers: Record<string, string>; cookies: string[]; requestContext: { domainName: string; http: { protocol: string } } };
    assert.deepStrictEqual(ev.headers, { 'x-a': '1', 'x-m': '1,2', 'content-type': 'text/plain' });
    assert.deepStrictEqual(ev.cookies, ['a=1', 'b=2']);
    assert.equal(ev.requestContext.domainName, '', ':authority is not a host header');
    assert.equal(ev.requestContext.http.protocol, 'HTTP/2.0');
  } finally {
    client.close();
    await new Promise((r) => srv.close(r));
  }
});

test('httpApiEventJson escapes exactly like JSON.stringify where node:http cannot deliver the input', () => {
  const weird = ['\ud800', 'a\udfffb', '\u{1F99C}', '\u2028\u2029', '\u0000\u001f\u007f\u0080', '"', '\\', '"\\/', '', ' '];
  for (const w of weird) {
    const rawHeaders = ['Host', `h${w}`, 'User-Agent', w, `X-${w}`, w, 'Content-Type', `text/plain${w}`, 'Cookie', `a=${w}`, ':authority', w];
    const common = {
      method: `GET${w}`,
      url: `/p${w}/%F0%9F%A6%9C?${w}=${w}&q=${w}`,
      body: Buffer.from(`b${w}`),
      sourceIp: `::1${w}`,
      requestId: `id${w}`,
      timeEpoch: 1_800_000_000_000,
      httpVersion: `1.1${w}`,
    };
    for (const match of [
      { routeKey: `GET /p${w}/{x}`, pathParameters: { x: w, [w]: 'k', '2': 'two', '1': 'one' } },
      { routeKey: w, pathParameters: undefined },
    ]) {
      const expected = JSON.stringify(toHttpApiEvent({ ...common, headers: nodeHeadersDistinct(rawHeaders) }, match));
      assert.equal(httpApiEventJson({ ...common, rawHeaders }, match), expected, JSON.stringify(w));
    }
  }
  // a timeEpoch JSON has no number for
  const nan = { method: 'GET', url: '/', body: Buffer.alloc(0), sourceIp: '', requestId: '', timeEpoch: Number.NaN, httpVersion: '1.1' };
  assert.equal(httpApiEventJson({ ...nan, rawHeaders: [] }, plainMatch), JSON.stringify(toHttpApiEvent({ ...nan, headers: {} }, plainMatch)));
});

test('httpApiEventJson content: repeats joined with ",", cookies split, odd names kept (checked on the parsed event)', async () => {
  const servers = await startCaptureServers();
  try {
    const got = await servers.send(h1('POST /items/caf%C3%A9?x=1&x=2 HTTP/1.1', [
      'Host: api.example.com',
      'X-Multi: 1',
      'x-multi: 2',
      'User-Agent: first',
      'X-MULTI: 3',
      'user-agent: second',
      'Cookie: a=1; b=2',
      'cookie: c=3',
      '123: n',
      '__proto__: p',
      'Content-Type: application/json',
    ], '{"k":"v"}'));
    // node's req.headers would have lost information: ", " joins and only the first user-agent
    assert.equal(got.nodeHeaders['x-multi'], '1, 2, 3');
    assert.equal(got.nodeHeaders['user-agent'], 'first');
    const text = httpApiEventJson(got.raw, { routeKey: 'POST /items/{name}', pathParameters: { name: 'café' } });
    const ev = JSON.parse(text) as Record<string, unknown> & { headers: Record<string, string>; requestContext: Record<string, unknown> & { http: Record<string, string> } };
    assert.deepStrictEqual(Object.keys(ev), [
      'version', 'routeKey', 'rawPath', 'rawQueryString', 'cookies', 'headers', 'queryStringParameters',
      'requestContext', 'body', 'pathParameters', 'isBase64Encoded',
    ]);
    assert.deepStrictEqual(Object.keys(ev.requestContext), ['accountId', 'apiId', 'domainName', 'domainPrefix', 'http', 'requestId', 'routeKey', 'stage', 'time', 'timeEpoch']);
    assert.deepStrictEqual(Object.keys(ev.requestContext.http), ['method', 'path', 'protocol', 'sourceIp', 'userAgent']);
    assert.equal(ev.headers['x-multi'], '1,2,3');
    assert.equal(ev.headers['user-agent'], 'first,second');
    assert.equal(ev.requestContext.http.userAgent, 'first,second');
    assert.deepStrictEqual(ev.cookies, ['a=1', 'b=2', 'c=3']);
    assert.equal(Object.hasOwn(ev.headers, 'cookie'), false);
    assert.equal(Object.hasOwn(ev.headers, '__proto__'), true);
    assert.deepStrictEqual(Object.keys(ev.headers), ['123', 'host', 'x-multi', 'user-agent', '__proto__', 'content-type', 'connection', 'content-length']);
    assert.deepStrictEqual(ev.queryStringParameters, { x: '1,2' });
    assert.equal(ev.rawPath, '/items/caf%C3%A9');
    assert.equal(ev.requestContext.http.path, '/items/café');
    assert.equal(ev.requestContext.domainPrefix, 'api');
    assert.equal(ev.requestContext.timeEpoch, got.raw.timeEpoch);
    assert.equal(ev.body, '{"k":"v"}');
    assert.equal(ev.isBase64Encoded, false);
    assert.deepStrictEqual(ev.pathParameters, { name: 'café' });
  } finally {
    await servers.close();
  }
});
