// The QueueSource contract against the real things: built-in topics on SQLite, NATS
// JetStream on 127.0.0.1:4222, Mosquitto on 127.0.0.1:1883 (started by the test when down).
import { after, before } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import mqtt from 'mqtt';
import { SqliteDatabase } from '../../src/store/index.ts';
import { JetStreamSource, MqttSource, SqliteTopicStore, TopicSource, Topics } from '../../src/triggers/queue/index.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { ensureMosquitto, ensureNats, MQTT_URL, NATS_URL } from '../helpers/brokers.ts';
import { queueSourceContract } from '../contract/queue-source.contract.ts';

const id = (): string => randomBytes(5).toString('hex');

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

queueSourceContract('TopicSource (SQLite)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aviary-topics-'));
  const db = new SqliteDatabase(path.join(dir, 'aviary.db'));
  const store = new SqliteTopicStore(db);
  const topics = new Topics({ store });
  await topics.create('default', { name: 'contract' });
  const source = (topic = 'contract') => new TopicSource({ store, notifier: topics, namespace: 'default', topic, clock: systemClock, visibilityMs: () => 1000, pollMs: 100 });
  return {
    source: () => source(),
    publish: async (body) => void (await topics.publish('default', 'contract', body)),
    unusable: () => source('no-such-topic'),
    redeliveryMs: 1500,
    close: async () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

let nc: NatsConnection;
before(async () => {
  await ensureNats();
  await ensureMosquitto();
  nc = await connect({ servers: NATS_URL });
});
after(async () => {
  await nc?.close();
});

queueSourceContract('JetStreamSource (NATS 127.0.0.1:4222)', async () => {
  const name = `contract-${id()}`;
  const subject = `contract.${name}.>`;
  const startTime = Date.now() - 1000;
  const source = (url = NATS_URL) => new JetStreamSource({
    url, subject, stream: null, triggerName: name, startTime, maxAckPending: 20, clock: systemClock, ackWaitMs: 1000, connectTimeoutMs: 1000,
  });
  const port = await deadPort();
  const js = jetstream(nc);
  return {
    source: () => source(),
    publish: async (body) => void (await js.publish(`contract.${name}.x`, body)),
    unusable: () => source(`nats://127.0.0.1:${port}`),
    redeliveryMs: 1500,
    close: async () => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(`AVIARY_${name}`).catch(() => undefined);
    },
  };
});

queueSourceContract('MqttSource (Mosquitto 127.0.0.1:1883)', async () => {
  const name = `contract-${id()}`;
  const triggerId = `qt_${id()}`;
  const source = (url = MQTT_URL) => new MqttSource({
    url, filter: `contract/${name}/#`, triggerName: name, triggerId, receiveMaximum: 20, clock: systemClock, connectTimeoutMs: 1000, sessionExpirySeconds: 60,
  });
  const port = await deadPort();
  const publisher = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5 });
  return {
    source: () => source(),
    publish: async (body) => void (await publisher.publishAsync(`contract/${name}/x`, body, { qos: 1 })),
    unusable: () => source(`mqtt://127.0.0.1:${port}`),
    redeliveryMs: 1000,
    close: async () => {
      await publisher.endAsync();
      await source().destroy();
    },
  };
});
