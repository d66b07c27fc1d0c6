import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorResponse, fromHandlerPayload, fromHandlerResult, type HttpResponse } from '../../src/http/triggers/response.ts';

function plain(r: HttpResponse): { statusCode: number; headers: Record<string, string>; cookies: string[]; body: string } {
  return { statusCode: r.statusCode, headers: { ...r.headers }, cookies: r.cookies, body: r.body.toString('utf8') };
}

const JSON_HEADERS = { 'content-type': 'application/json' };

test('valid JSON without statusCode is a 200 application/json response', () => {
  const cases: Array<[unknown, string]> = [
    ['Hello from Lambda!', 'Hello from Lambda!'],
    ['', ''],
    [42, '42'],
    [true, 'true'],
    [null, 'null'],
    [undefined, 'null'],
    [[1, 'a'], '[1,"a"]'],
    [{ message: 'hi', nested: { statusCode: 404 } }, '{"message":"hi","nested":{"statusCode":404}}'],
    [{ status: 404, body: 'x' }, '{"status":404,"body":"x"}'],
  ];
  for (const [result, body] of cases) {
    const { response, problem } = fromHandlerResult(result);
    assert.equal(problem, undefined);
    assert.deepStrictEqual(plain(response), { statusCode: 200, headers: JSON_HEADERS, cookies: [], body }, JSON.stringify(result));
  }
});

test('a structured response maps statusCode, headers, cookies and body', () => {
  const { response, problem } = fromHandlerResult({
    statusCode: 201,
    headers: { 'Content-Type': 'text/html', 'X-Count': 3, 'X-Flag': false, 'X-Gone': null, 'Set-Cookie': 'h=1' },
    cookies: ['a=1; Path=/', 'b=2; HttpOnly'],
    body: '<p>é</p>',
    isBase64Encoded: false,
    multiValueHeaders: { ignored: ['yes'] },
  });
  assert.equal(problem, undefined);
  assert.deepStrictEqual(plain(response), {
    statusCode: 201,
    headers: { 'content-type': 'text/html', 'x-count': '3', 'x-flag': 'false' },
    cookies: ['a=1; Path=/', 'b=2; HttpOnly', 'h=1'],
    body: '<p>é</p>',
  });
});

test('a structured response gets no content-type it did not set, and a missing or null body is empty', () => {
  for (const result of [{ statusCode: 204 }, { statusCode: 204, body: null, headers: null, cookies: null, isBase64Encoded: null }]) {
    const { response, problem } = fromHandlerResult(result);
    assert.equal(problem, undefined);
    assert.deepStrictEqual(plain(response), { statusCode: 204, headers: {}, cookies: [], body: '' });
  }
  assert.equal(fromHandlerResult({ statusCode: 200, body: 'x' }).response.headers['content-type'], undefined);
});

test('isBase64Encoded bodies are decoded to bytes', () => {
  const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0xff]);
  const { response, problem } = fromHandlerResult({ statusCode: 200, headers: { 'content-type': 'image/png' }, body: bytes.toString('base64'), isBase64Encoded: true });
  assert.equal(problem, undefined);
  assert.deepStrictEqual(response.body, bytes);
  // Not flagged: the base64 text itself is the body.
  assert.equal(fromHandlerResult({ statusCode: 200, body: 'aGk=' }).response.body.toString(), 'aGk=');
});

test('status code bounds: 200 and 599 are fine', () => {
  assert.equal(fromHandlerResult({ statusCode: 200 }).response.statusCode, 200);
  assert.equal(fromHandlerResult({ statusCode: 599 }).response.statusCode, 599);
});

test('hop-by-hop headers from the function are dropped; the rest are kept', () => {
  const { response, problem } = fromHandlerResult({
    statusCode: 200,
    headers: { Connection: 'upgrade', Upgrade: 'websocket', 'Transfer-Encoding': 'chunked', 'Keep-Alive': 'timeout=5', TE: 'trailers', Trailer: 'x-a', 'Proxy-Connection': 'close', 'x-kept': '1' },
    body: 'b',
  });
  assert.equal(problem, undefined);
  assert.deepStrictEqual({ ...response.headers }, { 'x-kept': '1' });
});

test('every invalid shape is a 502 with a problem for the developer', () => {
  const cases: Array<[unknown, string]> = [
    [{ statusCode: 'abc' }, 'statusCode must be an integer 200-599 (a 1xx status cannot end a request), got "abc"'],
    [{ statusCode: '200' }, 'statusCode must be an integer 200-599 (a 1xx status cannot end a request), got "200"'],
    [{ statusCode: 99 }, 'statusCode must be an integer 200-599 (a 1xx status cannot end a request), got 99'],
    [{ statusCode: 100 }, 'statusCode must be an integer 200-599 (a 1xx status cannot end a request), got 100'],
    [{ statusCode: 101 }, 'statusCode must be an integer 200-599 (a 1xx status cannot end a request), got 101'],
    [{ statusCode: 199 }, 'statusCode must be an integer 200-599 (a 1xx status cannot end a request), got 199'],
    [{ statusCode: 600 }, 'statusCode must be an integer 200-599 (a 1xx status cannot end a request), got 600'],
    [{ statusCode: 200.5 }, 'statusCode must be an integer 200-599 (a 1xx status cannot end a request), got 200.5'],
    [{ statusCode: null }, 'statusCode must be an integer 200-599 (a 1xx status cannot end a request), got null'],
    [{ statusCode: 200, body: 12 }, 'body must be a string (JSON.stringify objects yourself), got 12'],
    [{ statusCode: 200, body: { a: 1 } }, 'body must be a string (JSON.stringify objects yourself), got {"a":1}'],
    [{ statusCode: 200, headers: ['a'] }, 'headers must be an object of header names to values, got ["a"]'],
    [{ statusCode: 200, headers: 'x: y' }, 'headers must be an object of header names to values, got "x: y"'],
    [{ statusCode: 200, headers: { 'x-a': ['1', '2'] } }, 'headers.x-a must be a string, number or boolean, got ["1","2"]'],
    [{ statusCode: 200, cookies: 'a=1' }, 'cookies must be an array of strings, got "a=1"'],
    [{ statusCode: 200, cookies: ['a=1', 2] }, 'cookies must be an array of strings, got an element 2'],
    [{ statusCode: 200, body: 'aGk=', isBase64Encoded: 'true' }, 'isBase64Encoded must be a boolean, got "true"'],
    [{ statusCode: 200, headers: { 'bad name': 'x' } }, 'header name "bad name" is not a valid HTTP header name (letters, digits and !#$%&\'*+-.^_`|~ only)'],
    [{ statusCode: 200, headers: { '': 'x' } }, 'header name "" is not a valid HTTP header name (letters, digits and !#$%&\'*+-.^_`|~ only)'],
    [{ statusCode: 200, headers: { 'x-split': 'a\r\nx-injected: 1' } }, 'headers.x-split must not contain control characters (such as a line break) or characters above U+00FF, got "a\\r\\nx-injected: 1"'],
    [{ statusCode: 200, headers: { 'x-euro': '€' } }, 'headers.x-euro must not contain control characters (such as a line break) or characters above U+00FF, got "€"'],
    [{ statusCode: 200, cookies: ['a=1\nb=2'] }, 'cookies must not contain control characters (such as a line break), got an element "a=1\\nb=2"'],
  ];
  for (const [result, problem] of cases) {
    const mapped = fromHandlerResult(result);
    assert.equal(mapped.problem, problem);
    assert.deepStrictEqual(plain(mapped.response), { statusCode: 502, headers: JSON_HEADERS, cookies: [], body: '{"message":"Internal Server Error"}' });
  }
  const long = fromHandlerResult({ statusCode: 'x'.repeat(500) }).problem!;
  assert.ok(long.length < 180, long); // the value is cut short, not the message
});

test('fromHandlerPayload parses the runtime payload; non-JSON is a 502', () => {
  assert.deepStrictEqual(plain(fromHandlerPayload(Buffer.from('"hi"')).response), { statusCode: 200, headers: JSON_HEADERS, cookies: [], body: 'hi' });
  assert.equal(fromHandlerPayload('{"statusCode":418,"body":"teapot"}').response.statusCode, 418);
  const bad = fromHandlerPayload(Buffer.from('hello'));
  assert.equal(bad.response.statusCode, 502);
  assert.equal(bad.problem, 'the function\'s response is not valid JSON: "hello"');
});

test('gateway error responses carry status, message and request id', () => {
  const expected: Array<[Parameters<typeof errorResponse>[0], number, string]> = [
    ['function-error', 502, 'Internal Server Error'],
    ['timeout', 504, 'Endpoint request timed out'],
    ['throttled', 429, 'Too Many Requests'],
    ['unavailable', 503, 'Service Unavailable'],
    ['payload-too-large', 413, 'Request Entity Too Large'],
  ];
  for (const [kind, status, message] of expected) {
    const r = errorResponse(kind, 'req-42');
    assert.equal(r.statusCode, status, kind);
    assert.deepStrictEqual(r.headers, JSON_HEADERS);
    assert.deepStrictEqual(r.cookies, []);
    assert.deepStrictEqual(JSON.parse(r.body.toString()), { message, requestId: 'req-42' });
  }
});
