// The per-connection event template cache (src/http/triggers/event-cache.ts): a repeated request
// reuses its template, and any difference in what the client sent gives a fresh one, so the
// event always equals the one written from scratch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventTemplateCache } from '../../src/http/triggers/event-cache.ts';
import { fillEventTemplate, httpApiEventJson, type RawTriggerRequest } from '../../src/http/triggers/event.ts';

const base = {
  method: 'GET',
  url: '/hello/bob?x=1',
  rawHeaders: ['Host', 'api.example.com', 'User-Agent', 'curl/8', 'Cookie', 'a=1; b=2'],
  body: Buffer.alloc(0),
  sourceIp: '10.0.0.7',
  httpVersion: '1.1',
};
const match = { routeKey: 'GET /hello/{name}', pathParameters: { name: 'bob' } };

/** The event through the cache, checked against the event written from scratch. */
function event(cache: EventTemplateCache, connection: object, req: Omit<RawTriggerRequest, 'requestId' | 'timeEpoch'>, m = match, requestId = 'r-1', timeEpoch = 1_795_379_707_257): string {
  const json = fillEventTemplate(cache.get(connection, req, m), requestId, timeEpoch);
  assert.equal(json, httpApiEventJson({ ...req, requestId, timeEpoch }, m));
  return json;
}

test('a repeated request on a connection reuses its template; only the ids and times differ', () => {
  const cache = new EventTemplateCache();
  const conn = {};
  const first = cache.get(conn, { ...base, rawHeaders: [...base.rawHeaders] }, match);
  const again = cache.get(conn, { ...base, rawHeaders: [...base.rawHeaders] }, match);
  assert.equal(again, first);
  const a = JSON.parse(event(cache, conn, base, match, 'r-1', 1_795_379_707_257));
  const b = JSON.parse(event(cache, conn, base, match, 'r-2', 1_795_379_999_000));
  assert.equal(a.requestContext.requestId, 'r-1');
  assert.equal(b.requestContext.requestId, 'r-2');
  assert.notEqual(a.requestContext.time, b.requestContext.time);
  assert.equal(b.requestContext.timeEpoch, 1_795_379_999_000);
  assert.deepEqual(b.headers, a.headers);
});

test('any difference in method, URL, version, peer, header lines or route gives a fresh template', () => {
  const cache = new EventTemplateCache();
  const conn = {};
  event(cache, conn, base);
  const variants: [Omit<RawTriggerRequest, 'requestId' | 'timeEpoch'>, typeof match][] = [
    [{ ...base, method: 'HEAD' }, match],
    [{ ...base, url: '/hello/bob?x=2' }, match],
    [{ ...base, httpVersion: '1.0' }, match],
    [{ ...base, sourceIp: '10.0.0.8' }, match],
    [{ ...base, rawHeaders: ['Host', 'api.example.com', 'User-Agent', 'curl/9', 'Cookie', 'a=1; b=2'] }, match],
    [{ ...base, rawHeaders: ['host', 'api.example.com', 'User-Agent', 'curl/8', 'Cookie', 'a=1; b=2'] }, match],
    [{ ...base, rawHeaders: ['Host', 'api.example.com', 'User-Agent', 'curl/8'] }, match],
    [base, { routeKey: 'GET /hello/{who}', pathParameters: { who: 'bob' } } as unknown as typeof match],
  ];
  for (const [req, m] of variants) event(cache, conn, req, m); // each equals the event from scratch
});

test('requests with a body are never cached; connections do not share templates', () => {
  const cache = new EventTemplateCache();
  const withBody = { ...base, method: 'POST', body: Buffer.from('{"a":1}'), rawHeaders: ['Content-Type', 'application/json'] };
  const t1 = cache.get({}, withBody, match);
  const conn = {};
  assert.notEqual(cache.get(conn, withBody, match), t1);
  event(cache, conn, { ...withBody, body: Buffer.from('{"a":2}') });
  const other = {};
  event(cache, conn, base);
  assert.notEqual(cache.get(other, { ...base, sourceIp: '10.9.9.9' }, match), cache.get(conn, base, match));
  event(cache, other, { ...base, sourceIp: '10.9.9.9' });
});
