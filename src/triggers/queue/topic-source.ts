import type { Clock } from '../../shared/clock.ts';
import { sleep } from './buffer.ts';
import { ACCOUNT, REGION } from './event.ts';
import type { QueueMessage, QueueSource } from './source.ts';
import type { StoredMessage, TopicStore } from './types.ts';

/** Tells waiting consumers that a topic got a message, so they need not poll fast. */
export interface TopicNotifier {
  /** Calls `fn` after each commit to the topic; returns the unsubscribe function. */
  subscribe(topicId: string, fn: () => void): () => void;
}

export interface TopicSourceOptions {
  store: TopicStore;
  notifier: TopicNotifier;
  namespace: string;
  topic: string;
  clock: Clock;
  /** How long a claimed message stays invisible to other consumers (covers the batch window and the invocation). */
  visibilityMs: () => number;
  /** Polls this often even without a notification (other processes may publish). */
  pollMs?: number;
}

/**
 * A built-in topic (SQLite). A claim makes messages invisible for the visibility timeout;
 * `ack` deletes the message, `retry` makes it visible again after the delay, and a claim
 * that is never settled (crash) simply becomes visible again when its timeout runs out. So a
 * message leaves the store only after its function succeeded (or by moving to the
 * dead-letter topic).
 */
export class TopicSource implements QueueSource {
  readonly eventSource = 'aviary:topic';
  readonly arn: string;
  readonly #o: TopicSourceOptions;
  #topicId: string | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #wakers = new Set<() => void>();
  /** Counts notifications, so a publish between a claim and the wait after it is not missed. */
  #published = 0;
  #hasLeader = false;

  constructor(options: TopicSourceOptions) {
    this.#o = options;
    this.arn = `arn:aws:sqs:${REGION}:${ACCOUNT}:${options.topic}`;
  }

  async start(): Promise<void> {
    const topic = await this.#o.store.getTopic(this.#o.namespace, this.#o.topic);
    if (!topic) throw new Error(`topic ${this.#o.topic} does not exist; create it with \`aviary topic create ${this.#o.topic}\``);
    this.#topicId = topic.id;
    this.#unsubscribe = this.#o.notifier.subscribe(topic.id, () => {
      this.#published++;
      this.#wakeAll();
    });
  }

  async receive(max: number, windowMs: number, signal: AbortSignal): Promise<QueueMessage[]> {
    const topicId = this.#topicId;
    if (topicId === undefined) throw new Error('the topic source is not started');
    const { clock, store } = this.#o;
    const pollMs = this.#o.pollMs ?? 1000;
    const got: StoredMessage[] = [];
    let deadline: number | undefined;
    // idle receivers wait for a publish; only one of them (the leader) also polls, so an idle
    // trigger with maxConcurrency 1000 costs one query a second, not a thousand
    let leading = false;
    try {
      for (;;) {
        if (signal.aborted) return await this.#giveBack(got);
        const now = clock.now();
        const seen = this.#published;
        got.push(...(await store.claim(topicId, max - got.length, now, this.#o.visibilityMs() + windowMs)));
        if (got.length >= max) {
          this.#wakeAll(); // there may be more: let idle peers look
          break;
        }
        if (got.length > 0) {
          deadline ??= now + windowMs;
          if (clock.now() >= deadline) break;
        }
        if (this.#published !== seen) continue;
        if (deadline === undefined && !leading && !this.#hasLeader) leading = this.#hasLeader = true;
        const wait = deadline !== undefined ? Math.min(pollMs, deadline - clock.now()) : leading ? pollMs : Infinity;
        await this.#waitForPublish(signal, wait);
      }
    } finally {
      if (leading) {
        this.#hasLeader = false;
        this.#wakeAll(); // one of the others takes over the polling
      }
    }
    return got.map((m) => this.#message(topicId, m));
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#wakeAll();
  }

  #wakeAll(): void {
    for (const w of [...this.#wakers]) w();
  }

  /** Claimed messages not handed out (the trigger is stopping) become visible again at once. */
  async #giveBack(got: StoredMessage[]): Promise<QueueMessage[]> {
    const now = this.#o.clock.now();
    for (const m of got) await this.#o.store.release(m.id, m.receiveCount, now);
    return [];
  }

  #waitForPublish(signal: AbortSignal, ms: number): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    const inner = new AbortController();
    const wake = (): void => inner.abort();
    this.#wakers.add(wake);
    signal.addEventListener('abort', wake, { once: true });
    const waited = Number.isFinite(ms)
      ? sleep(this.#o.clock, Math.max(0, ms), inner.signal)
      : new Promise<void>((resolve) => inner.signal.addEventListener('abort', () => resolve(), { once: true }));
    return waited.finally(() => {
      this.#wakers.delete(wake);
      signal.removeEventListener('abort', wake);
    });
  }

  #message(topicId: string, m: StoredMessage): QueueMessage & { moveTo(topicId: string, attributes: Record<string, string>): Promise<void> } {
    const { store, clock } = this.#o;
    return {
      id: m.id,
      body: m.body,
      receiveCount: m.receiveCount,
      sentAt: m.sentAt,
      firstReceivedAt: m.firstReceivedAt,
      attributes: m.attributes,
      ack: async () => {
        await store.ack(m.id, m.receiveCount);
      },
      retry: async (delayMs) => {
        await store.release(m.id, m.receiveCount, clock.now() + delayMs);
      },
      moveTo: async (toTopicId, attributes) => {
        if (toTopicId === topicId) throw new Error('a topic cannot be its own dead-letter topic');
        await store.deadLetter(m.id, m.receiveCount, toTopicId, attributes, clock.now());
      },
    };
  }
}

/** A message that can move to another built-in topic atomically (dead letters of built-in topics). */
export function canMove(m: QueueMessage): m is QueueMessage & { moveTo(topicId: string, attributes: Record<string, string>): Promise<void> } {
  return typeof (m as { moveTo?: unknown }).moveTo === 'function';
}
