// Validation of queue triggers and topics: every problem names its field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseInput } from '../../src/registry/index.ts';
import { brokerUrlProblem, mqttFilterProblem, natsSubjectProblem, redactUrl, triggerSchema } from '../../src/triggers/queue/schemas.ts';
import { AviaryError } from '../../src/shared/errors.ts';

function issues(body: unknown): Record<string, string> {
  try {
    parseInput(triggerSchema, body, 'trigger');
  } catch (err) {
    assert.ok(err instanceof AviaryError);
    return Object.fromEntries((err.issues ?? []).map((i) => [i.path, i.message]));
  }
  return {};
}

describe('trigger input', () => {
  it('fills the documented defaults', () => {
    const t = parseInput(triggerSchema, { name: 'orders-in', function: 'process-order', source: 'nats', subject: 'orders.>' }, 'trigger');
    assert.deepEqual([t.batchSize, t.batchWindowMs, t.maxConcurrency, t.maxRetries], [10, 0, 2, 3]);
  });

  it('names each bad field', () => {
    assert.deepEqual(Object.keys(issues({ name: '1x', function: 'f', source: 'kafka', batchSize: 0, extra: true })).sort(), ['batchSize', 'extra', 'name', 'source']);
    assert.match(issues({ name: 'a', function: 'f', source: 'topic' }).topic ?? '', /is required for source topic/);
    assert.match(issues({ name: 'a', function: 'f', source: 'nats' }).subject ?? '', /is required for source nats/);
    assert.match(issues({ name: 'a', function: 'f', source: 'topic', topic: 't', url: 'nats://x:1' }).url ?? '', /not used with source topic/);
    assert.match(issues({ name: 'a', function: 'f', source: 'mqtt', topic: 's/#', subject: 'x' }).subject ?? '', /not used with source mqtt/);
    assert.match(issues({ name: 'a', function: 'f', source: 'nats', subject: 'o.>', batchSize: 101 }).batchSize ?? '', /between 1 and 100/);
    assert.match(issues({ name: 'a', function: 'f', source: 'nats', subject: 'o.>', url: 'http://x:1' }).url ?? '', /scheme http/);
  });
});

describe('broker URLs', () => {
  it('accepts well-formed URLs', () => {
    for (const u of ['nats://127.0.0.1:4222', 'tls://nats.example.com', 'nats://user:pa%40ss@h:4222', 'nats://[::1]:4222/']) assert.equal(brokerUrlProblem('nats', u), undefined, u);
    for (const u of ['mqtt://127.0.0.1:1883', 'mqtts://broker.local:8883']) assert.equal(brokerUrlProblem('mqtt', u), undefined, u);
  });

  it('names the problem', () => {
    const cases: [string, RegExp][] = [
      ['127.0.0.1:4222', /is not a URL/],
      ['nats//127.0.0.1:4222', /is not a URL/],
      ['mqtt://127.0.0.1:1883', /scheme mqtt/],
      ['nats://:4222', /no host/],
      ['nats://h:99999', /port 99999/],
      ['nats://h:0', /port 0/],
      ['nats://h:abc', /port "abc".*not a number/],
      ['nats://h:4222/orders', /must not have a path/],
      ['nats://h:4222?x=1', /query/],
      ['nats://ho st:4222', /host that is not valid/],
    ];
    for (const [url, re] of cases) assert.match(brokerUrlProblem('nats', url) ?? '(none)', re, url);
  });

  it('redacts passwords for display', () => {
    assert.equal(redactUrl('nats://u:secret@h:4222'), 'nats://u:***@h:4222');
    assert.equal(redactUrl('nats://h:4222'), 'nats://h:4222');
  });
});

describe('subjects and topic filters', () => {
  it('NATS subjects', () => {
    for (const s of ['orders', 'orders.>', 'orders.*.created', '>']) assert.equal(natsSubjectProblem(s), undefined, s);
    for (const s of ['orders.', '.orders', 'a..b', 'orders.>.x', 'ord*', 'a b']) assert.ok(natsSubjectProblem(s), s);
  });

  it('MQTT topic filters', () => {
    for (const f of ['sensors/#', 'sensors/+/temperature', '#', 'a/b']) assert.equal(mqttFilterProblem(f), undefined, f);
    for (const f of ['sensors/#/x', 'sen+sors', 'a#', '$share/g/a']) assert.ok(mqttFilterProblem(f), f);
  });
});
