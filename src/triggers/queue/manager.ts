import { randomUUID } from 'node:crypto';
import type { InvokeInput, InvokeResult } from '../../invoke/index.ts';
import { toIssues, type Registry, type RegistryEvent } from '../../registry/index.ts';
import { AviaryError, validationError, type FieldIssue } from '../../shared/errors.ts';
import { systemClock, type Clock } from '../../shared/clock.ts';
import { JetStreamSource } from './jetstream-source.ts';
import { MqttSource } from './mqtt-source.ts';
import { QueueTriggerRunner, newHealth, type DeadLetterer, type RunnerOptions, type TriggerHealth } from './poller.ts';
import { DEFAULT_URLS, TRIGGER_LIMITS, TRIGGER_NAME, triggerSchema } from './schemas.ts';
import type { QueueMessage, QueueSource } from './source.ts';
import { TopicSource, canMove } from './topic-source.ts';
import type { Topics } from './topics.ts';
import type { QueueTriggerRecord, TopicStore, TriggerStore } from './types.ts';

export interface QueueTriggersOptions {
  store: TriggerStore;
  topicStore: TopicStore;
  topics: Topics;
  registry: Registry;
  /** `Invoker.invoke`. */
  invoke: (input: InvokeInput) => Promise<InvokeResult>;
  /** The synchronous payload limit: a batch larger than this is split across invocations. */
  maxEventBytes: number;
  warn: (message: string) => void;
  clock?: Clock;
  /** Builds the source of a trigger; tests substitute their own. */
  sourceFor?: (trigger: QueueTriggerRecord) => QueueSource;
  runner?: Pick<RunnerOptions, 'retryDelayMs' | 'reconnectDelayMs'>;
}

export interface TriggerEntry {
  record: QueueTriggerRecord;
  health: TriggerHealth;
}

interface Live extends TriggerEntry {
  runner: QueueTriggerRunner | undefined;
  source: QueueSource | undefined;
}

/**
 * Queue triggers: their rules (validation, references to functions and topics), their
 * records in the store, and one running QueueTriggerRunner per enabled trigger.
 */
export class QueueTriggers {
  readonly #o: QueueTriggersOptions;
  readonly #clock: Clock;
  readonly #live = new Map<string, Live>(); // by id
  #started = false;

  constructor(options: QueueTriggersOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    options.topics.setUsage((ns, topic) => this.#usersOf(ns, topic));
    options.registry.onChange((e) => this.#onRegistryChange(e));
  }

  /** Loads the triggers and starts the enabled ones (each connects in the background). */
  async start(): Promise<void> {
    this.#started = true;
    for (const record of await this.#o.store.listTriggers()) {
      const live: Live = { record, health: newHealth(this.#clock.now()), runner: undefined, source: undefined };
      this.#live.set(record.id, live);
      if (record.enabled) this.#run(live);
      else live.health.status = 'paused';
    }
  }

  /** Stops every trigger: no new batches; batches in flight finish (bounded) and are settled. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#started = false;
    await Promise.all([...this.#live.values()].map((l) => l.runner?.stop('stopped', graceMs)));
  }

  list(namespace: string): TriggerEntry[] {
    return [...this.#live.values()].filter((l) => l.record.namespace === namespace)
      .sort((a, b) => a.record.name.localeCompare(b.record.name))
      .map(({ record, health }) => ({ record, health }));
  }

  get(namespace: string, name: string): TriggerEntry {
    const { record, health } = this.#find(namespace, name);
    return { record, health };
  }

  /** `name`, or `name:qualifier`, of the function a trigger invokes. */
  functionRef(record: QueueTriggerRecord): string {
    const name = this.#o.registry.functionName(record.functionId);
    return record.qualifier ? `${name}:${record.qualifier}` : name;
  }

  /** Validates and stores a trigger, then starts it. Any problem is a 400 naming the field, and changes nothing. */
  async create(namespace: string, body: unknown): Promise<TriggerEntry> {
    // the schema's issues and the references' (function, topics) are reported together
    const parsed = triggerSchema.safeParse(body);
    const issues: FieldIssue[] = parsed.success ? [] : toIssues(parsed.error);
    const raw = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const named = (field: string): string | undefined => {
      const v = raw[field];
      return typeof v === 'string' && !issues.some((i) => i.path === field) ? v : undefined;
    };
    const ref = named('function');
    const colon = ref?.indexOf(':') ?? -1;
    const fnName = ref === undefined ? undefined : colon === -1 ? ref : ref.slice(0, colon);
    const qualifier = ref === undefined || colon === -1 || ref.slice(colon + 1) === '$LATEST' ? null : ref.slice(colon + 1);
    let functionId: string | undefined;
    if (fnName !== undefined) {
      try {
        functionId = this.#o.registry.resolve(namespace, fnName, qualifier).fn.id;
      } catch (err) {
        if (!(err instanceof AviaryError)) throw err;
        issues.push({ path: 'function', message: err.code === 'FunctionNotFound' ? `function ${fnName} does not exist; deploy it first (aviary deploy ${fnName} PATH)` : err.message });
      }
    }
    const topic = raw.source === 'topic' ? named('topic') : undefined;
    if (topic !== undefined && !(await this.#o.topics.find(namespace, topic))) {
      issues.push({ path: 'topic', message: `topic ${topic} does not exist; create it with \`aviary topic create ${topic}\`` });
    }
    const dlq = named('deadLetterTopic');
    if (dlq !== undefined) {
      if (!(await this.#o.topics.find(namespace, dlq))) {
        issues.push({ path: 'deadLetterTopic', message: `topic ${dlq} does not exist; create it with \`aviary topic create ${dlq}\`` });
      } else if (dlq === topic) {
        issues.push({ path: 'deadLetterTopic', message: 'must differ from the topic the trigger consumes' });
      }
    }
    if (!parsed.success || issues.length > 0) throw validationError(issues, 'trigger');
    const input = parsed.data;
    const existing = [...this.#live.values()].filter((l) => l.record.namespace === namespace);
    if (existing.some((l) => l.record.name === input.name)) {
      throw new AviaryError('TriggerConflict', `trigger ${input.name} already exists; delete it first (aviary trigger delete ${input.name}) or choose another name`);
    }
    if (existing.length >= TRIGGER_LIMITS.perNamespace) {
      throw validationError([{ path: 'name', message: `the namespace has ${existing.length} triggers, the limit (${TRIGGER_LIMITS.perNamespace}); delete one first` }], 'trigger');
    }
    const now = this.#clock.now();
    const record: QueueTriggerRecord = {
      id: `qt_${randomUUID().replaceAll('-', '').slice(0, 16)}`,
      namespace,
      name: input.name,
      functionId: functionId!,
      qualifier,
      source: input.source,
      topic: input.topic ?? null,
      subject: input.subject ?? null,
      url: input.source === 'topic' ? null : (input.url ?? DEFAULT_URLS[input.source]),
      stream: input.stream ?? null,
      batchSize: input.batchSize,
      batchWindowMs: input.batchWindowMs,
      maxConcurrency: input.maxConcurrency,
      maxRetries: input.maxRetries,
      deadLetterTopic: input.deadLetterTopic ?? null,
      enabled: true,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.#o.store.createTrigger(record);
    } catch (err) {
      if (/UNIQUE/i.test((err as Error).message)) throw new AviaryError('TriggerConflict', `trigger ${input.name} already exists`);
      throw err;
    }
    const live: Live = { record, health: newHealth(now), runner: undefined, source: undefined };
    this.#live.set(record.id, live);
    if (this.#started) this.#run(live);
    return { record, health: live.health };
  }

  /** Stops and deletes a trigger; what it left on a broker (durable consumer, session) is removed best effort. */
  async delete(namespace: string, name: string): Promise<TriggerEntry> {
    const live = this.#find(namespace, name);
    await live.runner?.stop('stopped');
    await this.#o.store.deleteTrigger(live.record.id);
    this.#live.delete(live.record.id);
    const source = live.source ?? this.#sourceFor(live.record);
    void source.destroy?.().catch((err: unknown) => this.#o.warn(`trigger ${name} deleted; cleaning up on its broker failed (${(err as Error).message})`));
    return { record: live.record, health: live.health };
  }

  async pause(namespace: string, name: string): Promise<TriggerEntry> {
    const live = this.#find(namespace, name);
    if (live.record.enabled) {
      await this.#o.store.setEnabled(live.record.id, false, this.#clock.now());
      live.record = { ...live.record, enabled: false, updatedAt: this.#clock.now() };
      await live.runner?.stop('paused');
      live.runner = undefined;
      live.health.status = 'paused';
      live.health.since = this.#clock.now();
    }
    return { record: live.record, health: live.health };
  }

  async resume(namespace: string, name: string): Promise<TriggerEntry> {
    const live = this.#find(namespace, name);
    if (!live.record.enabled) {
      await this.#o.store.setEnabled(live.record.id, true, this.#clock.now());
      live.record = { ...live.record, enabled: true, updatedAt: this.#clock.now() };
      if (this.#started) this.#run(live);
    }
    return { record: live.record, health: live.health };
  }

  #run(live: Live): void {
    const source = this.#sourceFor(live.record);
    live.source = source;
    live.runner = new QueueTriggerRunner({
      trigger: live.record,
      source,
      invoke: this.#o.invoke,
      functionRef: () => this.functionRef(live.record),
      deadLetter: this.#deadLetterer(live.record, source),
      health: live.health,
      clock: this.#clock,
      maxEventBytes: this.#o.maxEventBytes,
      warn: this.#o.warn,
      ...this.#o.runner,
    });
    live.runner.start();
  }

  #sourceFor(t: QueueTriggerRecord): QueueSource {
    if (this.#o.sourceFor) return this.#o.sourceFor(t);
    const inFlight = Math.min(65_535, t.batchSize * t.maxConcurrency * 2);
    switch (t.source) {
      case 'topic':
        return new TopicSource({
          store: this.#o.topicStore,
          notifier: this.#o.topics,
          namespace: t.namespace,
          topic: t.topic!,
          clock: this.#clock,
          visibilityMs: () => this.#visibilityMs(t),
        });
      case 'nats':
        return new JetStreamSource({
          url: t.url!, subject: t.subject!, stream: t.stream, triggerName: t.name, startTime: t.createdAt, maxAckPending: inFlight, clock: this.#clock,
        });
      case 'mqtt':
        return new MqttSource({ url: t.url!, filter: t.topic!, triggerName: t.name, triggerId: t.id, receiveMaximum: inFlight, clock: this.#clock });
    }
  }

  /**
   * How long a claimed topic message stays invisible: the wait for an instance (10 s plus
   * the function's timeout) plus the run (its timeout) plus a margin, so a message is not
   * handed out twice while its function still runs.
   */
  #visibilityMs(t: QueueTriggerRecord): number {
    try {
      const { version } = this.#o.registry.resolve(t.namespace, this.functionRef(t));
      return 2 * version.timeout * 1000 + 40_000;
    } catch {
      return 60_000;
    }
  }

  /**
   * After `maxRetries` retries a message goes to the trigger's dead-letter topic, with
   * attributes saying where it came from and why it failed (for a built-in topic, moved in
   * one transaction). A trigger without one drops the message, counting it and logging why.
   */
  #deadLetterer(t: QueueTriggerRecord, source: QueueSource): DeadLetterer {
    return async (m: QueueMessage, reason: string) => {
      if (t.deadLetterTopic === null) {
        await m.ack();
        this.#o.warn(`trigger ${t.name}: message ${m.id} discarded after ${m.receiveCount} deliveries (no dead-letter topic): ${reason}`);
        return 'discarded';
      }
      const topic = await this.#o.topics.find(t.namespace, t.deadLetterTopic);
      if (!topic) {
        await m.retry(60_000);
        return 'retry-later';
      }
      const attributes: Record<string, string> = {
        ...m.attributes,
        deadLetterTrigger: t.name,
        deadLetterSource: source.eventSource,
        deadLetterReason: reason.slice(0, 1024),
        originalMessageId: m.id,
        receiveCount: String(m.receiveCount),
      };
      if (canMove(m)) await m.moveTo(topic.id, attributes);
      else {
        await this.#o.topics.publishTo(topic, m.body, attributes);
        await m.ack();
      }
      return 'dead-lettered';
    };
  }

  #find(namespace: string, name: string): Live {
    if (!TRIGGER_NAME.test(name)) {
      throw new AviaryError('ValidationError', `invalid trigger name ${JSON.stringify(name)}: use 1-64 letters, digits, - or _, starting with a letter`, {
        issues: [{ path: 'name', message: 'must be 1-64 letters, digits, - or _, starting with a letter' }],
      });
    }
    for (const l of this.#live.values()) if (l.record.namespace === namespace && l.record.name === name) return l;
    throw new AviaryError('TriggerNotFound', `trigger ${name} does not exist; list triggers with \`aviary trigger list\``);
  }

  #usersOf(namespace: string, topic: string): string[] {
    return [...this.#live.values()]
      .filter((l) => l.record.namespace === namespace && ((l.record.source === 'topic' && l.record.topic === topic) || l.record.deadLetterTopic === topic))
      .map((l) => l.record.name);
  }

  /** A deleted function takes its triggers with it (the store drops their rows with the function's). */
  #onRegistryChange(e: RegistryEvent): void {
    if (e.type !== 'deleted') return;
    for (const live of [...this.#live.values()]) {
      if (live.record.functionId !== e.fn.id) continue;
      this.#live.delete(live.record.id);
      void live.runner?.stop('stopped').then(() => live.source?.destroy?.()).catch((err: unknown) => this.#o.warn(`trigger ${live.record.name}: cleanup failed: ${(err as Error).message}`));
    }
  }
}
