import { randomUUID } from 'node:crypto';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Clock } from '../../shared/clock.ts';
import { decodeBody } from './body.ts';
import { MessageBuffer } from './buffer.ts';
import { ACCOUNT, REGION } from './event.ts';
import type { QueueMessage, QueueSource } from './source.ts';

export interface MqttSourceOptions {
  /** `mqtt://[user:pass@]host:port` or `mqtts://…`. */
  url: string;
  /** The topic filter, e.g. `sensors/+/temperature`. */
  filter: string;
  triggerName: string;
  /** Names the persistent session (`aviary-<id>`), so a re-created trigger of the same name starts afresh. */
  triggerId: string;
  /** QoS 1 messages the broker may have in flight to us (MQTT 5 Receive Maximum): batch size × concurrency × 2. */
  receiveMaximum: number;
  clock: Clock;
  connectTimeoutMs?: number;
  /** How long the broker keeps the session (subscription and unacknowledged messages) while we are away. */
  sessionExpirySeconds?: number;
}

/** A publish whose PUBACK we send ourselves, once the function has succeeded for it. */
interface Held {
  packet: IPublishPacket;
  client: MqttClient;
  receiveCount: number;
  firstReceivedAt: number;
  id: string;
}

/**
 * MQTT 5 through a shared subscription `$share/aviary-<trigger>/<filter>` at QoS 1, on a
 * persistent session (clean start off, session expiry a week by default). MQTT has no
 * negative acknowledgement, so:
 * - the PUBACK of a message is sent only after the function succeeded for it (or it was
 *   dead-lettered); until then the broker counts it in flight;
 * - a failed message is retried in this process after the delay, holding its PUBACK;
 * - if the connection or the process is lost first, the broker sends every message not
 *   yet acknowledged again when the session resumes (MQTT's redelivery on reconnect), so
 *   nothing is lost, but the receive count restarts (a redelivery counts as 2).
 * The broker bounds what it queues for an absent session (Mosquitto: max_queued_messages).
 */
export class MqttSource implements QueueSource {
  readonly eventSource = 'aviary:mqtt';
  readonly arn: string;
  readonly #o: MqttSourceOptions;
  #client: MqttClient | undefined;
  #buffer: MessageBuffer<Held> | undefined;
  readonly #retryTimers = new Set<unknown>();

  constructor(options: MqttSourceOptions) {
    this.#o = options;
    this.arn = `arn:aviary:mqtt:${REGION}:${ACCOUNT}:${options.filter}`;
  }

  get shareTopic(): string {
    return `$share/aviary-${this.#o.triggerName}/${this.#o.filter}`;
  }

  async start(onBroken: (err: Error) => void): Promise<void> {
    const buffer = new MessageBuffer<Held>(this.#o.clock);
    this.#buffer = buffer;
    const broken = (err: Error): void => {
      buffer.fail(err);
      onBroken(err);
    };
    // installed before the CONNACK: a resumed session's unacknowledged messages follow it at once
    const client = await this.#connect(false, (c) => {
      c.handleMessage = (packet, callback) => {
        if (packet.qos === 0) {
          // QoS 0 has no acknowledgement; should the broker downgrade, the message is still delivered once
          buffer.push({ packet, client: c, receiveCount: 1, firstReceivedAt: this.#o.clock.now(), id: randomUUID() });
          return callback();
        }
        buffer.push({ packet, client: c, receiveCount: packet.dup ? 2 : 1, firstReceivedAt: this.#o.clock.now(), id: randomUUID() });
        // an error here makes mqtt.js skip its automatic PUBACK and go on reading; we send it in ack()
        callback(DEFERRED);
      };
    });
    this.#client = client;
    client.on('close', () => broken(new Error(`connection to the MQTT broker at ${this.#where()} closed`)));
    client.on('error', (err) => broken(new Error(`MQTT broker at ${this.#where()}: ${err.message}`)));
    try {
      const grants = await client.subscribeAsync(this.shareTopic, { qos: 1 });
      const grant = grants[0];
      if (!grant || grant.qos > 2) throw new Error(`the broker refused the subscription ${this.shareTopic} (reason code ${grant?.qos ?? 'none'}); does it support MQTT 5 shared subscriptions?`);
    } catch (err) {
      client.end(true);
      throw err;
    }
  }

  async receive(max: number, windowMs: number, signal: AbortSignal): Promise<QueueMessage[]> {
    const buffer = this.#buffer;
    if (!buffer) throw new Error('the MQTT source is not started');
    return (await buffer.take(max, windowMs, signal)).map((h) => this.#message(h));
  }

  async stop(): Promise<void> {
    for (const t of this.#retryTimers) this.#o.clock.clearTimeout(t);
    this.#retryTimers.clear();
    // unacknowledged messages stay with the broker's session and come again on reconnect
    this.#buffer?.drain();
    this.#buffer?.fail(new Error('the source stopped'));
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners('close');
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      await Promise.race([client.endAsync(false), new Promise((r) => setTimeout(r, 2000).unref())]).catch(() => undefined);
      client.end(true);
    }
  }

  /** Ends the persistent session (and its subscription) on the broker: the trigger was deleted. */
  async destroy(): Promise<void> {
    const client = await this.#connect(true);
    client.on('error', () => undefined);
    await client.endAsync(false).catch(() => undefined);
  }

  #connect(discardSession: boolean, setup?: (client: MqttClient) => void): Promise<MqttClient> {
    const u = new URL(this.#o.url);
    const client = mqtt.connect(`${u.protocol}//${u.host}`, {
      protocolVersion: 5,
      clientId: `aviary-${this.#o.triggerId}`,
      clean: discardSession,
      reconnectPeriod: 0,
      connectTimeout: this.#o.connectTimeoutMs ?? 5000,
      keepalive: 15,
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      properties: {
        sessionExpiryInterval: discardSession ? 0 : (this.#o.sessionExpirySeconds ?? 7 * 24 * 3600),
        receiveMaximum: Math.max(1, Math.min(65_535, this.#o.receiveMaximum)),
      },
    });
    setup?.(client);
    return new Promise<MqttClient>((resolve, reject) => {
      const fail = (err: Error): void => {
        client.removeListener('connect', ok);
        client.end(true);
        reject(new Error(`cannot connect to the MQTT broker at ${this.#where()}: ${err.message || (err as NodeJS.ErrnoException).code || 'connection failed'}`, { cause: err }));
      };
      const ok = (): void => {
        client.removeListener('error', fail);
        client.removeListener('close', closed);
        resolve(client);
      };
      const closed = (): void => fail(new Error('connection closed before the broker accepted it'));
      client.once('connect', ok);
      client.once('error', fail);
      client.once('close', closed);
    });
  }

  #message(h: Held): QueueMessage {
    const { packet } = h;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const { body, encoding } = decodeBody(payload);
    const attributes: Record<string, string> = { topic: packet.topic, qos: String(packet.qos) };
    if (encoding) attributes.bodyEncoding = encoding;
    if (packet.properties?.contentType) attributes.contentType = packet.properties.contentType;
    for (const [k, v] of Object.entries(packet.properties?.userProperties ?? {})) attributes[k] = Array.isArray(v) ? v.join(',') : v;
    return {
      id: h.id,
      body,
      receiveCount: h.receiveCount,
      // MQTT carries no publish time: the time we received it is the closest we know
      sentAt: h.firstReceivedAt,
      firstReceivedAt: h.firstReceivedAt,
      attributes,
      ack: async () => this.#puback(h),
      retry: async (delayMs) => {
        if (packet.qos === 0) return;
        const timer = this.#o.clock.setTimeout(() => {
          this.#retryTimers.delete(timer);
          if (this.#client === h.client && this.#buffer) this.#buffer.push({ ...h, receiveCount: h.receiveCount + 1 });
        }, delayMs);
        this.#retryTimers.add(timer);
      },
    };
  }

  #puback(h: Held): void {
    if (h.packet.qos === 0 || h.packet.messageId === undefined) return;
    // a PUBACK belongs to the connection that received the publish; after a reconnect the broker resends instead
    if (this.#client !== h.client || !h.client.connected) return;
    (h.client as unknown as { _sendPacket(packet: object): void })._sendPacket({ cmd: 'puback', messageId: h.packet.messageId, reasonCode: 0 });
  }

  #where(): string {
    const u = new URL(this.#o.url);
    return `${u.protocol}//${u.host}`;
  }
}

/** Passed to mqtt.js's handleMessage callback to hold back its automatic PUBACK. */
const DEFERRED = new Error('acknowledged later by the queue trigger');
