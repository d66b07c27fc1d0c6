import { randomUUID } from 'node:crypto';
import { parseInput } from '../../registry/index.ts';
import { AviaryError } from '../../shared/errors.ts';
import { systemClock, type Clock } from '../../shared/clock.ts';
import { TOPIC_NAME, topicSchema } from './schemas.ts';
import type { TopicNotifier } from './topic-source.ts';
import type { TopicRecord, TopicStats, TopicStore } from './types.ts';

export const TOPIC_LIMITS = {
  /** One message's body (SQS's limit). */
  messageBytes: 256 * 1024,
  /** Messages one topic holds before publishing is refused with 429. */
  maxMessages: 100_000,
} as const;

export interface TopicsOptions {
  store: TopicStore;
  clock?: Clock;
  limits?: { messageBytes: number; maxMessages: number };
}

/**
 * Built-in topics: durable queues in the store. A publish resolves once the message is
 * committed; a trigger on the topic consumes it (see TopicSource).
 */
export class Topics implements TopicNotifier {
  readonly #store: TopicStore;
  readonly #clock: Clock;
  readonly limits: { messageBytes: number; maxMessages: number };
  readonly #listeners = new Map<string, Set<() => void>>();
  #usedBy: (namespace: string, topic: string) => string[] = () => [];

  constructor(options: TopicsOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.limits = options.limits ?? TOPIC_LIMITS;
  }

  /** Who uses a topic (triggers consuming it or dead-lettering to it); a topic in use cannot be deleted. */
  setUsage(usedBy: (namespace: string, topic: string) => string[]): void {
    this.#usedBy = usedBy;
  }

  async create(namespace: string, body: unknown): Promise<TopicRecord> {
    const { name } = parseInput(topicSchema, body, 'topic');
    if (await this.#store.getTopic(namespace, name)) throw new AviaryError('TopicConflict', `topic ${name} already exists`);
    const topic: TopicRecord = { id: `tp_${randomUUID().replaceAll('-', '')}`, namespace, name, createdAt: this.#clock.now() };
    try {
      await this.#store.createTopic(topic);
    } catch (err) {
      if (/UNIQUE/i.test((err as Error).message)) throw new AviaryError('TopicConflict', `topic ${name} already exists`);
      throw err;
    }
    return topic;
  }

  async list(namespace: string): Promise<{ topic: TopicRecord; stats: TopicStats }[]> {
    const now = this.#clock.now();
    return Promise.all((await this.#store.listTopics(namespace)).map(async (topic) => ({ topic, stats: await this.#store.topicStats(topic.id, now) })));
  }

  async get(namespace: string, name: string): Promise<{ topic: TopicRecord; stats: TopicStats }> {
    const topic = await this.find(namespace, name);
    if (!topic) throw notFound(name);
    return { topic, stats: await this.#store.topicStats(topic.id, this.#clock.now()) };
  }

  /** The topic, or undefined; a malformed name is a 400. */
  async find(namespace: string, name: string): Promise<TopicRecord | undefined> {
    checkTopicName(name);
    return this.#store.getTopic(namespace, name);
  }

  async delete(namespace: string, name: string): Promise<void> {
    const topic = await this.find(namespace, name);
    if (!topic) throw notFound(name);
    const users = this.#usedBy(namespace, name);
    if (users.length > 0) {
      throw new AviaryError('TopicConflict', `topic ${name} is used by trigger ${users.join(', ')}; delete ${users.length === 1 ? 'that trigger' : 'those triggers'} first (aviary trigger delete NAME)`);
    }
    await this.#store.deleteTopic(topic.id);
  }

  /** Stores a message; resolves with its id once committed. */
  async publish(namespace: string, name: string, body: string, attributes: Record<string, string> = {}): Promise<{ id: string; topic: TopicRecord }> {
    const topic = await this.find(namespace, name);
    if (!topic) throw notFound(name);
    const bytes = Buffer.byteLength(body);
    if (bytes === 0) {
      throw new AviaryError('ValidationError', 'the message is empty: send it as the request body', { issues: [{ path: 'body', message: 'must not be empty' }] });
    }
    if (bytes > this.limits.messageBytes) {
      throw new AviaryError('PayloadTooLarge', `the message is ${bytes} bytes; the limit for a topic message is ${this.limits.messageBytes} bytes (256 KB): pass large data by reference, e.g. a URL`);
    }
    return { id: await this.publishTo(topic, body, attributes), topic };
  }

  /** Publishes to a topic already looked up (dead letters). */
  async publishTo(topic: TopicRecord, body: string, attributes: Record<string, string>): Promise<string> {
    const id = randomUUID();
    const stored = await this.#store.publish(topic.id, { id, body, attributes }, this.#clock.now(), this.limits.maxMessages);
    if (stored === 'full') {
      throw new AviaryError('TooManyRequests', `topic ${topic.name} holds ${this.limits.maxMessages} messages, its limit; publish again once its triggers have consumed some`, { retryAfter: 5 });
    }
    for (const fn of this.#listeners.get(topic.id) ?? []) fn();
    return id;
  }

  subscribe(topicId: string, fn: () => void): () => void {
    let set = this.#listeners.get(topicId);
    if (!set) {
      set = new Set();
      this.#listeners.set(topicId, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.#listeners.delete(topicId);
    };
  }
}

export function checkTopicName(name: string): void {
  if (!TOPIC_NAME.test(name)) {
    throw new AviaryError('ValidationError', `invalid topic name ${JSON.stringify(name)}: use 1-80 letters, digits, - or _`, {
      issues: [{ path: 'name', message: 'must be 1-80 letters, digits, - or _' }],
    });
  }
}

function notFound(name: string): AviaryError {
  return new AviaryError('TopicNotFound', `topic ${name} does not exist; create it with \`aviary topic create ${name}\` or list topics with \`aviary topic list\``);
}
