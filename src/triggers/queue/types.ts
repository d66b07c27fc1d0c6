/** Records of built-in topics and queue triggers, and the persistence contract behind them. */

export type QueueSourceKind = 'topic' | 'nats' | 'mqtt';

export interface TopicRecord {
  id: string;
  namespace: string;
  name: string;
  createdAt: number;
}

export interface TopicStats {
  /** Messages held (visible, in flight, or waiting for a retry). */
  messages: number;
  /** Claimed by a trigger and not yet settled, or waiting for their retry time. */
  invisible: number;
}

/** A message of a built-in topic as a claim returns it. */
export interface StoredMessage {
  id: string;
  body: string;
  attributes: Record<string, string>;
  sentAt: number;
  /** Claims so far, this one included. */
  receiveCount: number;
  firstReceivedAt: number;
}

export interface QueueTriggerRecord {
  id: string;
  namespace: string;
  name: string;
  functionId: string;
  qualifier: string | null;
  source: QueueSourceKind;
  /** Built-in topic name (source `topic`) or MQTT topic filter (source `mqtt`). */
  topic: string | null;
  /** NATS subject (source `nats`). */
  subject: string | null;
  /** Broker URL (`nats://…`, `mqtt://…`); null for built-in topics. */
  url: string | null;
  /** JetStream stream; null: the stream that captures the subject, created if none does. */
  stream: string | null;
  batchSize: number;
  batchWindowMs: number;
  maxConcurrency: number;
  maxRetries: number;
  deadLetterTopic: string | null;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
}

/**
 * Topics and their messages. A message is deleted only by `ack` (after its function
 * succeeded) or moved by `deadLetter`; both check the claim is still the caller's
 * (`receiveCount`), so a late answer for a message whose visibility timeout ran out and that
 * was claimed again changes nothing.
 */
export interface TopicStore {
  createTopic(topic: TopicRecord): Promise<void>;
  listTopics(namespace: string): Promise<TopicRecord[]>;
  getTopic(namespace: string, name: string): Promise<TopicRecord | undefined>;
  topicStats(topicId: string, now: number): Promise<TopicStats>;
  deleteTopic(topicId: string): Promise<void>;
  /** Stores a message unless the topic already holds `maxMessages`; resolves once committed. */
  publish(topicId: string, message: { id: string; body: string; attributes: Record<string, string> }, now: number, maxMessages: number): Promise<'stored' | 'full'>;
  /** Claims up to `max` visible messages, oldest first, making them invisible until `now + visibilityMs`. */
  claim(topicId: string, max: number, now: number, visibilityMs: number): Promise<StoredMessage[]>;
  ack(messageId: string, receiveCount: number): Promise<boolean>;
  /** Makes a claimed message visible again at `visibleAt`. */
  release(messageId: string, receiveCount: number, visibleAt: number): Promise<boolean>;
  /** Moves a claimed message to another topic, visible at once, with extra attributes. Atomic. */
  deadLetter(messageId: string, receiveCount: number, toTopicId: string, attributes: Record<string, string>, now: number): Promise<boolean>;
}

export interface TriggerStore {
  listTriggers(): Promise<QueueTriggerRecord[]>;
  createTrigger(trigger: QueueTriggerRecord): Promise<void>;
  deleteTrigger(id: string): Promise<void>;
  setEnabled(id: string, enabled: boolean, now: number): Promise<void>;
}
