import type { SqliteDatabase } from '../../store/index.ts';
import type { QueueTriggerRecord, StoredMessage, TopicRecord, TopicStats, TopicStore, TriggerStore } from './types.ts';

type Row = Record<string, unknown>;

/** Topics and their messages in the shared SQLite database (migration 006). */
export class SqliteTopicStore implements TopicStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  async createTopic(t: TopicRecord): Promise<void> {
    this.#db.stmt('INSERT INTO topics (id, namespace, name, created_at) VALUES (?, ?, ?, ?)').run(t.id, t.namespace, t.name, t.createdAt);
  }

  async listTopics(namespace: string): Promise<TopicRecord[]> {
    return (this.#db.stmt('SELECT * FROM topics WHERE namespace = ? ORDER BY name').all(namespace) as Row[]).map(topicRow);
  }

  async getTopic(namespace: string, name: string): Promise<TopicRecord | undefined> {
    const row = this.#db.stmt('SELECT * FROM topics WHERE namespace = ? AND name = ?').get(namespace, name) as Row | undefined;
    return row ? topicRow(row) : undefined;
  }

  async topicStats(topicId: string, now: number): Promise<TopicStats> {
    const row = this.#db.stmt('SELECT COUNT(*) AS messages, COALESCE(SUM(visible_at > ?), 0) AS invisible FROM topic_messages WHERE topic_id = ?').get(now, topicId) as Row;
    return { messages: Number(row.messages), invisible: Number(row.invisible) };
  }

  async deleteTopic(topicId: string): Promise<void> {
    this.#db.transaction(() => {
      this.#db.stmt('DELETE FROM topic_messages WHERE topic_id = ?').run(topicId);
      this.#db.stmt('DELETE FROM topics WHERE id = ?').run(topicId);
    });
  }

  async publish(topicId: string, m: { id: string; body: string; attributes: Record<string, string> }, now: number, maxMessages: number): Promise<'stored' | 'full'> {
    return this.#db.transaction(() => {
      const row = this.#db.stmt('SELECT depth FROM topics WHERE id = ?').get(topicId) as Row | undefined;
      if (row && Number(row.depth) >= maxMessages) return 'full';
      this.#db.stmt('INSERT INTO topic_messages (id, topic_id, body, attributes_json, sent_at, visible_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(m.id, topicId, m.body, JSON.stringify(m.attributes), now, now);
      return 'stored';
    });
  }

  async claim(topicId: string, max: number, now: number, visibilityMs: number): Promise<StoredMessage[]> {
    const rows = this.#db.stmt(
      `UPDATE topic_messages SET visible_at = ?, receive_count = receive_count + 1, first_received_at = COALESCE(first_received_at, ?)
       WHERE seq IN (SELECT seq FROM topic_messages WHERE topic_id = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?)
       RETURNING seq, id, body, attributes_json, sent_at, receive_count, first_received_at`,
    ).all(now + visibilityMs, now, topicId, now, max) as Row[];
    rows.sort((a, b) => Number(a.seq) - Number(b.seq));
    return rows.map((r) => ({
      id: String(r.id),
      body: String(r.body),
      attributes: JSON.parse(String(r.attributes_json)) as Record<string, string>,
      sentAt: Number(r.sent_at),
      receiveCount: Number(r.receive_count),
      firstReceivedAt: Number(r.first_received_at),
    }));
  }

  async ack(messageId: string, receiveCount: number): Promise<boolean> {
    return Number(this.#db.stmt('DELETE FROM topic_messages WHERE id = ? AND receive_count = ?').run(messageId, receiveCount).changes) === 1;
  }

  async release(messageId: string, receiveCount: number, visibleAt: number): Promise<boolean> {
    return Number(this.#db.stmt('UPDATE topic_messages SET visible_at = ? WHERE id = ? AND receive_count = ?').run(visibleAt, messageId, receiveCount).changes) === 1;
  }

  async deadLetter(messageId: string, receiveCount: number, toTopicId: string, attributes: Record<string, string>, now: number): Promise<boolean> {
    return this.#db.transaction(() => {
      const row = this.#db.stmt('SELECT attributes_json FROM topic_messages WHERE id = ? AND receive_count = ?').get(messageId, receiveCount) as Row | undefined;
      if (!row) return false;
      const merged = { ...(JSON.parse(String(row.attributes_json)) as Record<string, string>), ...attributes };
      this.#db.stmt('UPDATE topic_messages SET topic_id = ?, attributes_json = ?, visible_at = ?, receive_count = 0, first_received_at = NULL WHERE id = ?')
        .run(toTopicId, JSON.stringify(merged), now, messageId);
      return true;
    });
  }
}

/** Queue trigger definitions in the shared SQLite database (migration 006). */
export class SqliteTriggerStore implements TriggerStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  async listTriggers(): Promise<QueueTriggerRecord[]> {
    return (this.#db.stmt('SELECT * FROM queue_triggers ORDER BY namespace, name').all() as Row[]).map(triggerRow);
  }

  async createTrigger(t: QueueTriggerRecord): Promise<void> {
    this.#db.stmt(
      `INSERT INTO queue_triggers (id, namespace, name, function_id, qualifier, source, topic, subject, url, stream, batch_size,
         batch_window_ms, max_concurrency, max_retries, dead_letter_topic, enabled, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(t.id, t.namespace, t.name, t.functionId, t.qualifier, t.source, t.topic, t.subject, t.url, t.stream, t.batchSize,
      t.batchWindowMs, t.maxConcurrency, t.maxRetries, t.deadLetterTopic, t.enabled ? 1 : 0, t.createdAt, t.updatedAt);
  }

  async deleteTrigger(id: string): Promise<void> {
    this.#db.stmt('DELETE FROM queue_triggers WHERE id = ?').run(id);
  }

  async setEnabled(id: string, enabled: boolean, now: number): Promise<void> {
    this.#db.stmt('UPDATE queue_triggers SET enabled = ?, updated_at = ? WHERE id = ?').run(enabled ? 1 : 0, now, id);
  }
}

function topicRow(r: Row): TopicRecord {
  return { id: String(r.id), namespace: String(r.namespace), name: String(r.name), createdAt: Number(r.created_at) };
}

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function triggerRow(r: Row): QueueTriggerRecord {
  return {
    id: String(r.id),
    namespace: String(r.namespace),
    name: String(r.name),
    functionId: String(r.function_id),
    qualifier: str(r.qualifier),
    source: String(r.source) as QueueTriggerRecord['source'],
    topic: str(r.topic),
    subject: str(r.subject),
    url: str(r.url),
    stream: str(r.stream),
    batchSize: Number(r.batch_size),
    batchWindowMs: Number(r.batch_window_ms),
    maxConcurrency: Number(r.max_concurrency),
    maxRetries: Number(r.max_retries),
    deadLetterTopic: str(r.dead_letter_topic),
    enabled: Number(r.enabled) === 1,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
