// CloudEvents 1.0 over HTTP: structured, binary and batch mode, and the spec's attribute rules.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isRfc3339, parseHttpEvents, type CloudEvent } from '../../src/triggers/events/cloudevents.ts';
import { isAviaryError } from '../../src/shared/errors.ts';

const EVENT = { specversion: '1.0', id: 'e-1', source: 'shop', type: 'order.created', data: { total: 150 } };

function parse(headers: Record<string, string>, body: string | Buffer) {
  return parseHttpEvents(headers, Buffer.isBuffer(body) ? body : Buffer.from(body));
}

function one(headers: Record<string, string>, body: string | Buffer): CloudEvent {
  const r = parse(headers, body);
  assert.equal(r.events.length, 1);
  return r.events[0]!;
}

/** The error a request must fail with. */
function failure(headers: Record<string, string>, body: string | Buffer): { code: string; message: string; issues: { path: string; message: string }[] } {
  try {
    parse(headers, body);
  } catch (err) {
    assert.ok(isAviaryError(err), String(err));
    return { code: err.code, message: err.message, issues: err.issues ?? [] };
  }
  assert.fail('parsed');
}

describe('structured mode', () => {
  test('application/cloudevents+json', () => {
    const r = parse({ 'content-type': 'application/cloudevents+json; charset=utf-8' }, JSON.stringify(EVENT));
    assert.equal(r.mode, 'structured');
    assert.deepEqual(r.events, [EVENT]);
  });

  test('plain application/json carrying the attributes', () => {
    assert.deepEqual(one({ 'content-type': 'application/json' }, JSON.stringify(EVENT)), EVENT);
  });

  test('optional attributes and extensions are kept, in a canonical order; nulls are absent', () => {
    const e = one({ 'content-type': 'application/cloudevents+json' }, JSON.stringify({
      data: 'x', traceparent: '00-abc', type: 't', source: '/s', id: '1', specversion: '1.0', subject: 'orders/1',
      time: '2026-11-22T10:00:00.123+01:00', datacontenttype: 'text/plain', dataschema: 'https://example.com/s.json',
      priority: 3, urgent: true, nothing: null,
    }));
    assert.deepEqual(Object.keys(e), ['specversion', 'id', 'source', 'type', 'subject', 'datacontenttype', 'dataschema', 'time', 'traceparent', 'priority', 'urgent', 'data']);
  });

  test('data_base64 is kept as given', () => {
    const e = one({ 'content-type': 'application/cloudevents+json' }, JSON.stringify({ ...EVENT, data: undefined, data_base64: 'AAEC' }));
    assert.equal(e.data_base64, 'AAEC');
    assert.equal('data' in e, false);
  });

  test('every missing or bad attribute is named at once', () => {
    const f = failure({ 'content-type': 'application/cloudevents+json' }, JSON.stringify({
      specversion: '0.3', source: '', type: 5, time: 'yesterday', datacontenttype: 'json', dataschema: 'not a uri', Upper: 'x', ext: { a: 1 }, big: 2 ** 40,
    }));
    assert.equal(f.code, 'ValidationError');
    const byPath = Object.fromEntries(f.issues.map((i) => [i.path, i.message]));
    assert.match(byPath.specversion!, /must be "1.0"/);
    assert.match(byPath.id!, /is required: a value unique for this source/);
    assert.match(byPath.source!, /must be a non-empty string/);
    assert.match(byPath.type!, /must be a non-empty string, got 5/);
    assert.match(byPath.time!, /RFC 3339/);
    assert.match(byPath.datacontenttype!, /media type/);
    assert.match(byPath.dataschema!, /absolute URI/);
    assert.match(byPath.Upper!, /lower-case letters and digits only/);
    assert.match(byPath.ext!, /string, a boolean or a 32-bit integer, got an object/);
    assert.match(byPath.big!, /32-bit integer/);
    assert.ok(f.message.startsWith('invalid CloudEvent: '));
  });

  test('data and data_base64 together are refused', () => {
    const f = failure({ 'content-type': 'application/cloudevents+json' }, JSON.stringify({ ...EVENT, data_base64: 'AA==' }));
    assert.deepEqual(f.issues.map((i) => i.path), ['data_base64']);
  });

  test('bad JSON, empty body, an array, a non-object', () => {
    assert.match(failure({ 'content-type': 'application/cloudevents+json' }, '{"id":').issues[0]!.message, /is not valid JSON/);
    assert.match(failure({ 'content-type': 'application/cloudevents+json' }, '').issues[0]!.message, /is empty/);
    assert.match(failure({ 'content-type': 'application/json' }, '[]').issues[0]!.message, /application\/cloudevents-batch\+json/);
    assert.match(failure({ 'content-type': 'application/cloudevents+json' }, '"x"').issues[0]!.message, /must be a JSON object/);
  });

  test('other event formats and plain bodies without ce- headers are 415', () => {
    assert.equal(failure({ 'content-type': 'application/cloudevents+avro' }, 'x').code, 'UnsupportedMediaType');
    const f = failure({ 'content-type': 'text/plain' }, 'hello');
    assert.equal(f.code, 'UnsupportedMediaType');
    assert.match(f.message, /binary mode \(ce-specversion, ce-id, ce-source and ce-type headers\)/);
    assert.equal(failure({}, 'hello').code, 'UnsupportedMediaType');
  });
});

describe('binary mode', () => {
  const ce = { 'ce-specversion': '1.0', 'ce-id': 'b-1', 'ce-source': 'shop', 'ce-type': 'order.created' };

  test('a JSON body becomes data, its Content-Type the datacontenttype', () => {
    const r = parse({ ...ce, 'content-type': 'application/json', 'ce-subject': 'orders/42', 'ce-time': '2026-11-22T10:00:00Z', 'ce-traceparent': '00-abc' }, '{"total":150}');
    assert.equal(r.mode, 'binary');
    assert.deepEqual(r.events[0], {
      specversion: '1.0', id: 'b-1', source: 'shop', type: 'order.created', subject: 'orders/42', datacontenttype: 'application/json',
      time: '2026-11-22T10:00:00Z', traceparent: '00-abc', data: { total: 150 },
    });
  });

  test('+json media types are JSON too', () => {
    assert.deepEqual(one({ ...ce, 'content-type': 'application/vnd.shop+json' }, '[1,2]').data, [1, 2]);
  });

  test('text stays text, bytes become data_base64', () => {
    assert.equal(one({ ...ce, 'content-type': 'text/plain; charset=utf-8' }, 'héllo').data, 'héllo');
    assert.equal(one({ ...ce, 'content-type': 'application/xml' }, '<a/>').data, '<a/>');
    const bytes = Buffer.from([0, 1, 2, 255]);
    const e = one({ ...ce, 'content-type': 'application/octet-stream' }, bytes);
    assert.equal(e.data_base64, bytes.toString('base64'));
    assert.equal(e.datacontenttype, 'application/octet-stream');
  });

  test('an empty body is an event without data', () => {
    const e = one({ ...ce, 'content-type': 'application/json' }, '');
    assert.equal('data' in e, false);
    assert.equal('datacontenttype' in e, false);
  });

  test('header values are percent-decoded', () => {
    assert.equal(one({ ...ce, 'ce-subject': 'caf%C3%A9%20100%25' }, '').subject, 'café 100%');
  });

  test('problems name the header', () => {
    const f = failure({ 'ce-specversion': '1.0', 'ce-source': 'shop', 'ce-time': 'now', 'ce-datacontenttype': 'x', 'ce-bad': '%zz', 'content-type': 'application/json' }, '{');
    const paths = f.issues.map((i) => i.path).sort();
    assert.deepEqual(paths, ['body', 'ce-bad', 'ce-datacontenttype', 'ce-id', 'ce-time', 'ce-type']);
    assert.match(f.issues.find((i) => i.path === 'body')!.message, /is not valid JSON .* but Content-Type says application\/json/);
  });

  test('ce-specversion other than 1.0 is refused', () => {
    assert.match(failure({ ...ce, 'ce-specversion': '0.3' }, '').issues[0]!.message, /must be "1.0"/);
  });
});

describe('batch mode', () => {
  test('an array of structured events', () => {
    const r = parse({ 'content-type': 'application/cloudevents-batch+json' }, JSON.stringify([EVENT, { ...EVENT, id: 'e-2' }]));
    assert.equal(r.mode, 'batch');
    assert.deepEqual(r.events.map((e) => e.id), ['e-1', 'e-2']);
  });

  test('problems are named by index; one bad event refuses the batch', () => {
    const f = failure({ 'content-type': 'application/cloudevents-batch+json' }, JSON.stringify([EVENT, { ...EVENT, id: '' }]));
    assert.deepEqual(f.issues.map((i) => i.path), ['[1].id']);
  });

  test('empty, not an array, too many', () => {
    const h = { 'content-type': 'application/cloudevents-batch+json' };
    assert.match(failure(h, '[]').issues[0]!.message, /empty/);
    assert.match(failure(h, '{}').issues[0]!.message, /JSON array/);
    assert.match(failure(h, JSON.stringify(Array.from({ length: 101 }, () => EVENT))).issues[0]!.message, /the limit \(maxBatchEvents\) is 100/);
  });
});

test('RFC 3339 timestamps', () => {
  for (const ok of ['2026-11-22T10:00:00Z', '2026-11-22t10:00:00.5z', '2024-02-29T23:59:60+05:30', '1985-04-12T23:20:50.52Z']) assert.ok(isRfc3339(ok), ok);
  for (const bad of ['2026-11-22', '2026-11-22 10:00:00Z', '2026-13-01T00:00:00Z', '2025-02-29T00:00:00Z', '2026-11-22T24:00:00Z', '2026-11-22T10:00:00', '2026-11-22T10:00:00+25:00']) {
    assert.ok(!isRfc3339(bad), bad);
  }
});
