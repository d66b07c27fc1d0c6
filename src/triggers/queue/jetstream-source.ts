import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { ConsumerMessages, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Clock } from '../../shared/clock.ts';
import { MessageBuffer } from './buffer.ts';
import { ACCOUNT, REGION } from './event.ts';
import { decodeBody } from './body.ts';
import type { QueueMessage, QueueSource } from './source.ts';

export interface JetStreamSourceOptions {
  /** `nats://[user:pass@]host:port` or `tls://…`. */
  url: string;
  subject: string;
  /** The stream to consume; null: the stream capturing `subject`, created (`AVIARY_<trigger>`) if none does. */
  stream: string | null;
  triggerName: string;
  /** When the trigger was created: a new durable consumer starts at messages published since then. */
  startTime: number;
  /** Messages the server hands out before they are acked (flow control): batch size × concurrency × 2. */
  maxAckPending: number;
  clock: Clock;
  /** Server-side redelivery of a message not acked in time; held messages are kept alive with `working()`. */
  ackWaitMs?: number;
  connectTimeoutMs?: number;
  /** Retention of a stream this source creates. */
  createdStreamMaxAgeMs?: number;
}

const NANOS_PER_MS = 1_000_000;

/**
 * NATS JetStream through a durable pull consumer per trigger (`aviary-<trigger>`): a message
 * is acked only after the function succeeded for it, nak'ed with a delay when it failed
 * (the server redelivers it then), and redelivered by the server after `ack_wait` if this
 * process dies holding it. The client's own reconnect is off: a lost connection breaks the
 * source and the runner reconnects with its backoff, rebinding the consumer.
 */
export class JetStreamSource implements QueueSource {
  readonly eventSource = 'aviary:nats';
  readonly #o: JetStreamSourceOptions;
  #nc: NatsConnection | undefined;
  #messages: ConsumerMessages | undefined;
  #buffer: MessageBuffer<JsMsg> | undefined;
  /** Messages handed to us and not yet acked or nak'ed; kept alive with `working()` every ack_wait / 3. */
  readonly #held = new Set<JsMsg>();
  #keepAlive: unknown;
  #stream: string | undefined;

  constructor(options: JetStreamSourceOptions) {
    this.#o = options;
  }

  get durable(): string {
    return `aviary-${this.#o.triggerName}`;
  }

  get arn(): string {
    return `arn:aviary:nats:${REGION}:${ACCOUNT}:${this.#stream ?? this.#o.stream ?? this.#o.subject}`;
  }

  async start(onBroken: (err: Error) => void): Promise<void> {
    const { clock } = this.#o;
    const nc = await this.#connect();
    this.#nc = nc;
    const buffer = new MessageBuffer<JsMsg>(clock);
    this.#buffer = buffer;
    const broken = (err: Error): void => {
      buffer.fail(err);
      onBroken(err);
    };
    try {
      const jsm = await jetstreamManager(nc, { timeout: this.#o.connectTimeoutMs ?? 5000 });
      const stream = this.#o.stream ?? (await this.#findOrCreateStream(jsm));
      this.#stream = stream;
      await this.#bindConsumer(jsm, stream);
      const consumer = await jetstream(nc).consumers.get(stream, this.durable);
      this.#messages = await consumer.consume({
        max_messages: this.#o.maxAckPending,
        callback: (m) => {
          this.#held.add(m);
          buffer.push(m);
        },
      });
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
    void nc.closed().then((err) => broken(err instanceof Error ? err : new Error(`connection to ${this.#where()} closed`)));
    void this.#watch(this.#messages, broken);
    const ackWait = this.#o.ackWaitMs ?? 30_000;
    const schedule = (): void => {
      const handle = clock.setTimeout(keepAlive, ackWait / 3);
      handle.unref();
      this.#keepAlive = handle;
    };
    const keepAlive = (): void => {
      for (const m of this.#held) m.working();
      schedule();
    };
    schedule();
  }

  async receive(max: number, windowMs: number, signal: AbortSignal): Promise<QueueMessage[]> {
    const buffer = this.#buffer;
    if (!buffer) throw new Error('the NATS source is not started');
    const now = this.#o.clock.now();
    return (await buffer.take(max, windowMs, signal)).map((m) => this.#message(m, now));
  }

  async stop(): Promise<void> {
    if (this.#keepAlive !== undefined) this.#o.clock.clearTimeout(this.#keepAlive);
    this.#keepAlive = undefined;
    const nc = this.#nc;
    this.#nc = undefined;
    // messages received but never handed out go back at once rather than after ack_wait
    for (const m of this.#buffer?.drain() ?? []) {
      this.#held.delete(m);
      try {
        m.nak();
      } catch {
        // the connection is gone: the server redelivers after ack_wait
      }
    }
    this.#held.clear();
    this.#buffer?.fail(new Error('the source stopped'));
    this.#messages?.stop();
    this.#messages = undefined;
    if (nc && !nc.isClosed()) {
      await nc.flush().catch(() => undefined);
      await nc.close().catch(() => undefined);
    }
  }

  /** Deletes the durable consumer (the trigger was deleted); the stream and its messages stay. */
  async destroy(): Promise<void> {
    const nc = await this.#connect();
    try {
      const jsm = await jetstreamManager(nc, { timeout: this.#o.connectTimeoutMs ?? 5000 });
      const stream = this.#stream ?? this.#o.stream ?? (await jsm.streams.find(this.#o.subject));
      await jsm.consumers.delete(stream, this.durable);
    } finally {
      await nc.close().catch(() => undefined);
    }
  }

  async #connect(): Promise<NatsConnection> {
    const u = new URL(this.#o.url);
    const server = `${u.protocol}//${u.host}`;
    try {
      return await connect({
        servers: [server],
        ...(u.username ? { user: decodeURIComponent(u.username) } : {}),
        ...(u.password ? { pass: decodeURIComponent(u.password) } : {}),
        ...(u.protocol === 'tls:' ? { tls: {} } : {}),
        name: `aviary trigger ${this.#o.triggerName}`,
        reconnect: false,
        timeout: this.#o.connectTimeoutMs ?? 5000,
        pingInterval: 10_000,
        maxPingOut: 2,
      });
    } catch (err) {
      throw new Error(`cannot connect to NATS at ${this.#where()}: ${describe(err)}`, { cause: err });
    }
  }

  async #findOrCreateStream(jsm: JetStreamManager): Promise<string> {
    try {
      return await jsm.streams.find(this.#o.subject);
    } catch (err) {
      if (!/no stream matches/i.test(describe(err))) throw err;
    }
    const name = `AVIARY_${this.#o.triggerName}`;
    try {
      await jsm.streams.add({
        name,
        subjects: [this.#o.subject],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_age: (this.#o.createdStreamMaxAgeMs ?? 7 * 24 * 3600 * 1000) * NANOS_PER_MS,
      });
    } catch (err) {
      throw new Error(`no JetStream stream captures subject ${this.#o.subject}, and creating stream ${name} failed: ${describe(err)}`, { cause: err });
    }
    return name;
  }

  /** Creates the durable consumer, or updates the settings a trigger may change on an existing one. */
  async #bindConsumer(jsm: JetStreamManager, stream: string): Promise<void> {
    const ackWait = (this.#o.ackWaitMs ?? 30_000) * NANOS_PER_MS;
    let exists = true;
    try {
      const info = await jsm.consumers.info(stream, this.durable);
      if (info.config.filter_subject === this.#o.subject && info.config.max_ack_pending === this.#o.maxAckPending && info.config.ack_wait === ackWait) return;
    } catch (err) {
      if (!/consumer not found/i.test(describe(err))) throw err;
      exists = false;
    }
    if (exists) {
      await jsm.consumers.update(stream, this.durable, { filter_subject: this.#o.subject, max_ack_pending: this.#o.maxAckPending, ack_wait: ackWait });
      return;
    }
    await jsm.consumers.add(stream, {
      durable_name: this.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(this.#o.startTime).toISOString(),
      filter_subject: this.#o.subject,
      ack_wait: ackWait,
      max_ack_pending: this.#o.maxAckPending,
      // retries and dead letters are the trigger's (maxRetries, deadLetterTopic), not the server's
      max_deliver: -1,
    });
  }

  /** The consumer's notifications that mean it cannot deliver any more: break the source so the runner rebinds it. */
  async #watch(messages: ConsumerMessages, broken: (err: Error) => void): Promise<void> {
    try {
      for await (const s of messages.status()) {
        if (s.type === 'consumer_deleted') broken(new Error(`the durable consumer ${this.durable} was deleted (${s.description})`));
        else if (s.type === 'consumer_not_found' && s.count >= 2) broken(new Error(`the durable consumer ${this.durable} no longer exists on stream ${s.stream}`));
        else if (s.type === 'stream_not_found') broken(new Error(`stream ${s.name} no longer exists`));
        else if (s.type === 'heartbeats_missed' && s.count >= 2) broken(new Error(`the NATS server at ${this.#where()} stopped answering (missed heartbeats)`));
      }
    } catch {
      // the iterator ends with the connection; nc.closed() reports that
    }
  }

  #message(m: JsMsg, now: number): QueueMessage {
    const { body, encoding } = decodeBody(m.data);
    const attributes: Record<string, string> = { subject: m.subject, stream: m.info.stream, sequence: String(m.info.streamSequence) };
    if (encoding) attributes.bodyEncoding = encoding;
    if (m.headers) for (const [k, v] of m.headers) if (v[0] !== undefined) attributes[k] = v[0];
    const sentAt = Math.floor(m.info.timestampNanos / NANOS_PER_MS);
    return {
      id: `${m.info.stream}-${m.info.streamSequence}`,
      body,
      receiveCount: m.info.deliveryCount,
      sentAt,
      firstReceivedAt: m.info.deliveryCount === 1 ? now : sentAt,
      attributes,
      ack: async () => {
        this.#held.delete(m);
        m.ack();
      },
      retry: async (delayMs) => {
        this.#held.delete(m);
        m.nak(delayMs);
      },
    };
  }

  #where(): string {
    const u = new URL(this.#o.url);
    return `${u.protocol}//${u.host}`;
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return cause && !err.message.includes(cause) ? `${err.message} (${cause})` : err.message;
}
