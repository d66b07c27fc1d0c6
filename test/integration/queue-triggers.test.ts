// Queue triggers through a real server: built-in topics, NATS JetStream (127.0.0.1:4222) and
// Mosquitto (127.0.0.1:1883), Lambda's SQS event, partial failures, dead letters, a broker
// outage (a NATS server this test starts and stops on 127.0.0.1:4299), and bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import mqtt from 'mqtt';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { fixture, TestApi, waitFor } from '../helpers/api.ts';
import { ensureMosquitto, ensureNats, listening, MQTT_URL, NATS_URL, startNats, type OwnNats } from '../helpers/brokers.ts';

let server: RunningServer;
let api: TestApi;
let nc: NatsConnection;
const sfx = randomBytes(4).toString('hex');

interface Rec {
  id: string;
  body: string;
  count: number;
  source: string;
  arn: string;
  region: string;
  md5: string;
  receipt: string;
  sent: string;
  attributes: Record<string, string>;
}

before(async () => {
  await ensureNats();
  await ensureMosquitto();
  nc = await connect({ servers: NATS_URL });
  server = await startServer();
  api = new TestApi(server.url, server.adminKey);
  const r = await api.deployDir('rec', fixture('node-queue-recorder'), { handler: 'index.handler' });
  assert.equal(r.status, 201, r.text);
});
after(async () => {
  await server?.stop();
  await nc?.close();
});

/** Every batch the recorder function logged, oldest first. */
async function batches(fn = 'rec'): Promise<Rec[][]> {
  const r = await api.request('GET', `/v1/functions/${fn}/logs?limit=1000`);
  assert.equal(r.status, 200, r.text);
  return (r.json.logs as { message: string }[])
    .filter((l) => l.message.startsWith('BATCH '))
    .map((l) => JSON.parse(l.message.slice('BATCH '.length).trim()) as Rec[]);
}

async function recordsWhere(pred: (r: Rec) => boolean): Promise<Rec[]> {
  return (await batches()).flat().filter(pred);
}

async function waitRecords(pred: (r: Rec) => boolean, count: number, what: string, timeoutMs = 20_000): Promise<Rec[]> {
  let got: Rec[] = [];
  const ok = await waitFor(async () => (got = await recordsWhere(pred)).length >= count, timeoutMs, 200);
  assert.ok(ok, `${what}: expected ${count} records, got ${got.length}\n${server.output().slice(-3000)}`);
  return got;
}

async function trigger(name: string): Promise<any> {
  const r = await api.request('GET', `/v1/triggers/${name}`);
  assert.equal(r.status, 200, r.text);
  return r.json.trigger;
}

async function waitStatus(name: string, status: string, timeoutMs = 20_000): Promise<any> {
  let t: any;
  const ok = await waitFor(async () => (t = await trigger(name)).health.status === status, timeoutMs, 100);
  assert.ok(ok, `trigger ${name} should become ${status}; it is ${JSON.stringify(t?.health)}`);
  return t;
}

async function createTrigger(body: Record<string, unknown>): Promise<any> {
  const r = await api.request('POST', '/v1/triggers', { function: 'rec', ...body });
  assert.equal(r.status, 201, r.text);
  return r.json.trigger;
}

async function publish(topic: string, body: string): Promise<string> {
  const r = await api.request('POST', `/v1/topics/${topic}/messages`, body, { 'content-type': 'application/json' });
  assert.equal(r.status, 201, r.text);
  return r.json.messageId as string;
}

const bodyHas = (s: string) => (r: Rec) => r.body.includes(s);

describe('built-in topics', () => {
  test('a published message reaches the function as an SQS-style record, in one batch', async () => {
    assert.equal((await api.request('POST', '/v1/topics', { name: 'orders' })).status, 201);
    const t = await createTrigger({ name: 'orders-in', source: 'topic', topic: 'orders', batchSize: 10, batchWindowMs: 500 });
    assert.equal(t.function, 'rec');
    assert.equal(t.source, 'topic');
    const bodies = ['{"order":1}', '{"order":2}', '{"order":3}'];
    const ids = [];
    for (const b of bodies) ids.push(await publish('orders', b));
    const got = await waitRecords(bodyHas('"order"'), 3, 'orders');
    assert.deepEqual(got.map((r) => r.id).sort(), [...ids].sort(), 'messageId is the id the publish returned');
    const all = await batches();
    assert.ok(all.some((b) => b.filter(bodyHas('"order"')).length === 3), 'the three arrived in one batch (batch window 500 ms)');
    for (const r of got) {
      assert.equal(r.source, 'aviary:topic');
      assert.equal(r.arn, 'arn:aws:sqs:local:000000000000:orders');
      assert.equal(r.region, 'local');
      assert.equal(r.count, 1);
      assert.equal(r.md5, createHash('md5').update(r.body).digest('hex'));
      assert.ok(r.receipt.length > 0);
      assert.ok(Math.abs(Number(r.sent) - Date.now()) < 60_000);
      assert.equal(r.attributes.contentType, 'application/json');
    }
    const after = await waitStatus('orders-in', 'healthy');
    assert.ok(await waitFor(async () => (await trigger('orders-in')).health.succeeded === 3, 5000), 'three succeeded');
    assert.equal(after.health.lastError, null);
    const topics = (await api.request('GET', '/v1/topics')).json.topics as { name: string; messages: number }[];
    assert.equal(topics.find((x) => x.name === 'orders')?.messages, 0, 'consumed messages are gone from the store');
  });

  test('partial failure: only the message named in batchItemFailures is delivered again', async () => {
    assert.equal((await api.request('POST', '/v1/topics', { name: 'partial' })).status, 201);
    await createTrigger({ name: 'partial-in', source: 'topic', topic: 'partial', batchWindowMs: 500, maxRetries: 5 });
    await publish('partial', '{"p":"ok-1"}');
    await publish('partial', '{"p":"flaky","fail":true,"until":3}');
    await publish('partial', '{"p":"ok-2"}');
    await waitRecords(bodyHas('"flaky"'), 3, 'the flaky message three times');
    await new Promise((r) => setTimeout(r, 2500)); // would a fourth delivery, or a redelivery of the others, come?
    const seen = await recordsWhere(bodyHas('"p"'));
    const count = (s: string) => seen.filter(bodyHas(s)).map((r) => r.count);
    assert.deepEqual(count('ok-1'), [1], 'ok-1 delivered once');
    assert.deepEqual(count('ok-2'), [1], 'ok-2 delivered once');
    assert.deepEqual(count('flaky'), [1, 2, 3], 'the failed message is retried until it succeeds');
    const h = (await trigger('partial-in')).health;
    assert.equal(h.succeeded, 3);
    assert.equal(h.retried, 2);
    assert.match(h.lastFailure, /batchItemFailures/);
  });

  test('after maxRetries a message moves to the dead-letter topic, with why', async () => {
    for (const name of ['work', 'dead']) assert.equal((await api.request('POST', '/v1/topics', { name })).status, 201);
    await createTrigger({ name: 'work-in', source: 'topic', topic: 'work', maxRetries: 1, deadLetterTopic: 'dead' });
    await publish('work', '{"w":"doomed","throw":true}');
    assert.ok(await waitFor(async () => (await trigger('work-in')).health.deadLettered === 1, 15_000), 'dead-lettered');
    const dead = (await api.request('GET', '/v1/topics/dead')).json.topic;
    assert.equal(dead.messages, 1);
    await createTrigger({ name: 'dead-in', source: 'topic', topic: 'dead' });
    const [r] = await waitRecords((x) => x.body.includes('"doomed"') && x.source === 'aviary:topic' && x.arn.endsWith(':dead'), 1, 'the dead letter');
    assert.equal(r!.attributes.deadLetterTrigger, 'work-in');
    assert.match(r!.attributes.deadLetterReason ?? '', /failed 2 times.*on purpose/);
    assert.equal(r!.count, 1, 'a dead letter starts afresh');
    const attempts = await recordsWhere((x) => x.body.includes('"doomed"') && x.arn.endsWith(':work'));
    assert.deepEqual(attempts.map((x) => x.count), [1, 2], 'one try and maxRetries (1) retry');
  });

  test('pause holds messages in the topic; resume delivers them', async () => {
    assert.equal((await api.request('POST', '/v1/topics', { name: 'held' })).status, 201);
    await createTrigger({ name: 'held-in', source: 'topic', topic: 'held' });
    const paused = await api.request('POST', '/v1/triggers/held-in/pause');
    assert.equal(paused.status, 200, paused.text);
    assert.equal(paused.json.trigger.health.status, 'paused');
    assert.equal(paused.json.trigger.enabled, false);
    await publish('held', '{"h":"held"}');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await recordsWhere(bodyHas('"held"'))).length, 0, 'nothing delivered while paused');
    assert.equal((await api.request('GET', '/v1/topics/held')).json.topic.messages, 1);
    assert.equal((await api.request('POST', '/v1/triggers/held-in/resume')).status, 200);
    await waitRecords(bodyHas('"held"'), 1, 'delivered after resume');
  });
});

describe('NATS JetStream', () => {
  const subject = `aviary-it.${sfx}`;
  const name = `nats-${sfx}`;
  after(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(`AVIARY_${name}`).catch(() => undefined);
  });

  test('a durable consumer per trigger: messages published with the NATS client reach the function; a failure is nak\'ed and redelivered', async () => {
    const t = await createTrigger({ name, source: 'nats', subject: `${subject}.>`, url: NATS_URL, batchWindowMs: 300 });
    assert.equal(t.url, NATS_URL);
    await waitStatus(name, 'healthy');
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(`AVIARY_${name}`, `aviary-${name}`);
    assert.equal(info.config.durable_name, `aviary-${name}`);
    assert.equal(info.config.ack_policy, 'explicit');
    const js = jetstream(nc);
    const h = natsHeaders();
    h.set('trace-id', 'abc');
    await js.publish(`${subject}.created`, '{"n":"one"}', { headers: h });
    await js.publish(`${subject}.created`, '{"n":"two","fail":true,"until":2}');
    await js.publish(`${subject}.created`, new Uint8Array([0xff, 0xfe, 0x00]));
    const got = await waitRecords((r) => r.source === 'aviary:nats' && r.attributes.subject === `${subject}.created`, 4, 'NATS messages');
    const one = got.find(bodyHas('"one"'))!;
    assert.equal(one.attributes['trace-id'], 'abc', 'headers become message attributes');
    assert.equal(one.attributes.stream, `AVIARY_${name}`);
    assert.equal(one.arn, `arn:aviary:nats:local:000000000000:AVIARY_${name}`);
    assert.deepEqual(got.filter(bodyHas('"two"')).map((r) => r.count), [1, 2], 'the failed message came back (nak with delay)');
    const binary = got.find((r) => r.attributes.bodyEncoding === 'base64');
    assert.equal(binary?.body, Buffer.from([0xff, 0xfe, 0x00]).toString('base64'), 'a payload that is not UTF-8 arrives base64-encoded');
    assert.ok(await waitFor(async () => (await trigger(name)).health.succeeded === 3, 5000));
    assert.ok(await waitFor(async () => (await jsm.consumers.info(`AVIARY_${name}`, `aviary-${name}`)).num_ack_pending === 0, 5000), 'everything acked');

    assert.equal((await api.request('DELETE', `/v1/triggers/${name}`)).status, 204);
    assert.ok(await waitFor(async () => jsm.consumers.info(`AVIARY_${name}`, `aviary-${name}`).then(() => false, () => true), 5000), 'deleting the trigger deletes its durable consumer');
  });
});

describe('MQTT', () => {
  test('a shared subscription at QoS 1: messages published with an MQTT client reach the function; a failure is retried', async () => {
    const name = `mqtt-${sfx}`;
    await createTrigger({ name, source: 'mqtt', topic: `aviary-it/${sfx}/+/temperature`, url: MQTT_URL, batchWindowMs: 300 });
    await waitStatus(name, 'healthy');
    const client = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5 });
    try {
      await client.publishAsync(`aviary-it/${sfx}/s1/temperature`, '{"t":21.5}', { qos: 1, properties: { userProperties: { unit: 'C' } } });
      await client.publishAsync(`aviary-it/${sfx}/s2/temperature`, '{"t":99,"fail":true,"until":2}', { qos: 1 });
      await client.publishAsync(`aviary-it/${sfx}/s3/humidity`, '{"h":40}', { qos: 1 }); // not matched by the filter
    } finally {
      await client.endAsync();
    }
    const got = await waitRecords((r) => r.source === 'aviary:mqtt' && (r.attributes.topic ?? '').startsWith(`aviary-it/${sfx}/`), 3, 'MQTT messages');
    const first = got.find(bodyHas('21.5'))!;
    assert.equal(first.attributes.topic, `aviary-it/${sfx}/s1/temperature`);
    assert.equal(first.attributes.unit, 'C');
    assert.equal(first.arn, `arn:aviary:mqtt:local:000000000000:aviary-it/${sfx}/+/temperature`);
    assert.deepEqual(got.filter(bodyHas('"fail"')).map((r) => r.count), [1, 2]);
    assert.ok(!got.some(bodyHas('humidity')) && !got.some(bodyHas('"h"')));
    assert.ok(await waitFor(async () => (await trigger(name)).health.succeeded === 2, 5000));
    assert.equal((await api.request('DELETE', `/v1/triggers/${name}`)).status, 204);
  });
});

describe('broker outage', () => {
  let own: OwnNats | undefined;
  after(async () => {
    await own?.stop();
  });

  test('a trigger whose broker is away is unhealthy with the error, and resumes on its own when the broker comes', async () => {
    assert.equal(await listening(4299), false, 'nothing may listen on 127.0.0.1:4299 for this test');
    const name = `outage-${sfx}`;
    await createTrigger({ name, source: 'nats', subject: 'outage.>', url: 'nats://127.0.0.1:4299' });
    const down = await waitStatus(name, 'unhealthy');
    assert.match(down.health.lastError, /127\.0\.0\.1:4299/);
    assert.ok(down.health.lastErrorAt);
    const listed = (await api.request('GET', '/v1/triggers')).json.triggers.find((t: { name: string }) => t.name === name);
    assert.equal(listed.health.status, 'unhealthy', 'GET /v1/triggers shows it too');
    assert.ok(listed.health.lastError);

    own = await startNats(4299);
    await waitStatus(name, 'healthy', 30_000);
    const oc = await connect({ servers: own.url });
    try {
      await jetstream(oc).publish('outage.x', '{"o":"after the outage"}');
    } finally {
      await oc.close();
    }
    await waitRecords(bodyHas('after the outage'), 1, 'delivered once the broker came');

    await own.stop();
    own = undefined;
    const again = await waitStatus(name, 'unhealthy', 30_000);
    assert.match(again.health.lastError, /4299/);
    assert.equal((await api.request('DELETE', `/v1/triggers/${name}`)).status, 204);
  });
});

describe('bad input changes nothing', () => {
  test('triggers: unknown function, malformed URL, unknown fields, missing topics → 400 naming the field', async () => {
    const before = (await api.request('GET', '/v1/triggers')).json.triggers.length;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ name: 'bad1', function: 'no-such-fn', source: 'nats', subject: 'a.>' }, 'function', /does not exist/],
      [{ name: 'bad2', function: 'rec', source: 'nats', subject: 'a.>', url: 'nats://127.0.0.1:99999' }, 'url', /port 99999/],
      [{ name: 'bad3', function: 'rec', source: 'mqtt', topic: 'a/#', url: 'http://127.0.0.1:1883' }, 'url', /scheme http/],
      [{ name: 'bad4', function: 'rec', source: 'nats', subject: 'a.>', url: 'not a url' }, 'url', /is not a URL/],
      [{ name: 'bad5', function: 'rec', source: 'topic', topic: 'orders', batchSize: 10, color: 'red' }, 'color', /not a known field/],
      [{ name: 'bad6', function: 'rec', source: 'topic', topic: 'no-such-topic' }, 'topic', /does not exist/],
      [{ name: 'bad7', function: 'rec', source: 'topic', topic: 'orders', deadLetterTopic: 'nope' }, 'deadLetterTopic', /does not exist/],
      [{ name: 'bad8', function: 'rec', source: 'nats' }, 'subject', /is required/],
      [{ name: 'bad9', function: 'rec', source: 'topic', topic: 'orders', batchSize: 0 }, 'batchSize', /between 1 and 100/],
      [{ name: 'bad10', function: 'rec', source: 'sqs', topic: 'orders' }, 'source', /one of topic, nats, mqtt/],
    ];
    for (const [body, field, message] of cases) {
      const r = await api.request('POST', '/v1/triggers', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.text}`);
      assert.equal(r.json.error.code, 'ValidationError');
      const issue = (r.json.error.issues as { path: string; message: string }[]).find((i) => i.path === field);
      assert.ok(issue, `an issue names ${field}: ${r.text}`);
      assert.match(issue.message, message);
    }
    const both = await api.request('POST', '/v1/triggers', { name: 'bad11', function: 'no-such-fn', source: 'nats', subject: 'a.>', url: 'nats://h:99999' });
    assert.equal(both.status, 400);
    assert.deepEqual((both.json.error.issues as { path: string }[]).map((i) => i.path).sort(), ['function', 'url'], 'every problem at once');
    const dup = await api.request('POST', '/v1/triggers', { name: 'orders-in', function: 'rec', source: 'topic', topic: 'orders' });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.code, 'TriggerConflict');
    assert.equal((await api.request('GET', '/v1/triggers')).json.triggers.length, before, 'no trigger was added');
    assert.equal((await api.request('GET', '/v1/triggers/no-such')).status, 404);
    assert.equal((await api.request('DELETE', '/v1/triggers/no-such')).json.error.code, 'TriggerNotFound');
  });

  test('topics: bad names, duplicates, a topic in use, unknown topics, oversized messages', async () => {
    assert.equal((await api.request('POST', '/v1/topics', { name: 'has space' })).status, 400);
    assert.equal((await api.request('POST', '/v1/topics', { name: 'x', extra: 1 })).json.error.issues[0].path, 'extra');
    const dup = await api.request('POST', '/v1/topics', { name: 'orders' });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.code, 'TopicConflict');
    const inUse = await api.request('DELETE', '/v1/topics/orders');
    assert.equal(inUse.status, 409);
    assert.match(inUse.json.error.message, /used by trigger orders-in/);
    assert.equal((await api.request('POST', '/v1/topics/no-such/messages', '{}', { 'content-type': 'application/json' })).json.error.code, 'TopicNotFound');
    const empty = await api.request('POST', '/v1/topics/orders/messages', '', { 'content-type': 'text/plain' });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.error.issues[0].path, 'body');
    await api.request('POST', '/v1/triggers/orders-in/pause');
    const before = (await api.request('GET', '/v1/topics/orders')).json.topic.messages;
    const big = await api.request('POST', '/v1/topics/orders/messages', 'x'.repeat(256 * 1024 + 1), { 'content-type': 'text/plain' });
    assert.equal(big.status, 413, big.text);
    assert.match(big.json.error.message, /262144 bytes/);
    const exact = await api.request('POST', '/v1/topics/orders/messages', 'x'.repeat(256 * 1024), { 'content-type': 'application/octet-stream' });
    assert.equal(exact.status, 201, 'exactly 256 KB is accepted');
    assert.equal((await api.request('GET', '/v1/topics/orders')).json.topic.messages, before + 1, 'only the accepted message was stored');
    await api.request('POST', '/v1/triggers/orders-in/resume');
  });
});

describe('lifecycle', () => {
  test('deleting a function deletes its triggers', async () => {
    const r = await api.deployDir('short-lived', fixture('node-queue-recorder'), { handler: 'index.handler' });
    assert.equal(r.status, 201, r.text);
    assert.equal((await api.request('POST', '/v1/topics', { name: 'short' })).status, 201);
    await createTrigger({ name: 'short-in', function: 'short-lived', source: 'topic', topic: 'short' });
    assert.equal((await api.request('DELETE', '/v1/functions/short-lived')).status, 204);
    assert.equal((await api.request('GET', '/v1/triggers/short-in')).status, 404);
    assert.equal((await api.request('DELETE', '/v1/topics/short')).status, 204, 'the topic is free again');
  });

  test('topic messages and triggers survive a restart of the server', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'aviary-test-restart-'));
    try {
      const first = await startServer({ dataDir });
      try {
        const a = new TestApi(first.url, first.adminKey);
        assert.equal((await a.deployDir('rec', fixture('node-queue-recorder'), { handler: 'index.handler' })).status, 201);
        assert.equal((await a.request('POST', '/v1/topics', { name: 'durable' })).status, 201);
        assert.equal((await a.request('POST', '/v1/triggers', { name: 'durable-in', function: 'rec', source: 'topic', topic: 'durable' })).status, 201);
        assert.equal((await a.request('POST', '/v1/triggers/durable-in/pause')).status, 200);
        assert.equal((await a.request('POST', '/v1/topics/durable/messages', '{"d":"kept"}', { 'content-type': 'application/json' })).status, 201);
      } finally {
        await first.stop();
      }
      const second = await startServer({ dataDir });
      try {
        const b = new TestApi(second.url, second.adminKey);
        const t = (await b.request('GET', '/v1/triggers/durable-in')).json.trigger;
        assert.equal(t.health.status, 'paused', 'the trigger and its paused state were kept');
        assert.equal((await b.request('GET', '/v1/topics/durable')).json.topic.messages, 1, 'the message was kept');
        assert.equal((await b.request('POST', '/v1/triggers/durable-in/resume')).status, 200);
        const ok = await waitFor(async () => {
          const logs = (await b.request('GET', '/v1/functions/rec/logs?limit=100')).json.logs as { message: string }[];
          return logs.some((l) => l.message.includes('kept'));
        }, 20_000, 200);
        assert.ok(ok, 'the message published before the restart was delivered after it');
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
