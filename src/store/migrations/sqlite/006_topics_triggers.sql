-- Built-in topics and queue triggers (SQLite). Never edit a shipped migration: add a new numbered file.

-- A topic is a durable queue in the store: each message goes to one trigger (competing
-- consumers, as with several Lambda event source mappings on one SQS queue).
CREATE TABLE topics (
  id          TEXT PRIMARY KEY,
  namespace   TEXT NOT NULL REFERENCES namespaces(name),
  name        TEXT NOT NULL,
  -- messages held, kept by the triggers below so a publish checks the backlog limit in O(1)
  depth       INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  UNIQUE (namespace, name)
);

CREATE TABLE topic_messages (
  seq                INTEGER PRIMARY KEY AUTOINCREMENT,
  id                 TEXT NOT NULL UNIQUE,
  topic_id           TEXT NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
  body               TEXT NOT NULL,
  attributes_json    TEXT NOT NULL DEFAULT '{}',
  sent_at            INTEGER NOT NULL,
  -- a claimed message is invisible until this time (its visibility timeout); a failed one until its retry time
  visible_at         INTEGER NOT NULL,
  receive_count      INTEGER NOT NULL DEFAULT 0,
  first_received_at  INTEGER
);
CREATE INDEX topic_messages_next ON topic_messages (topic_id, visible_at, seq);

CREATE TRIGGER topic_messages_depth_insert AFTER INSERT ON topic_messages
BEGIN
  UPDATE topics SET depth = depth + 1 WHERE id = NEW.topic_id;
END;
CREATE TRIGGER topic_messages_depth_delete AFTER DELETE ON topic_messages
BEGIN
  UPDATE topics SET depth = depth - 1 WHERE id = OLD.topic_id;
END;
CREATE TRIGGER topic_messages_depth_move AFTER UPDATE OF topic_id ON topic_messages
BEGIN
  UPDATE topics SET depth = depth - 1 WHERE id = OLD.topic_id;
  UPDATE topics SET depth = depth + 1 WHERE id = NEW.topic_id;
END;

-- A binding of a message source (built-in topic, NATS JetStream subject, MQTT topic filter) to a function.
CREATE TABLE queue_triggers (
  id                 TEXT PRIMARY KEY,
  namespace          TEXT NOT NULL REFERENCES namespaces(name),
  name               TEXT NOT NULL,
  function_id        TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
  qualifier          TEXT,
  source             TEXT NOT NULL CHECK (source IN ('topic', 'nats', 'mqtt')),
  -- built-in topic name (source topic) or MQTT topic filter (source mqtt)
  topic              TEXT,
  subject            TEXT,
  url                TEXT,
  stream             TEXT,
  batch_size         INTEGER NOT NULL,
  batch_window_ms    INTEGER NOT NULL,
  max_concurrency    INTEGER NOT NULL,
  max_retries        INTEGER NOT NULL,
  dead_letter_topic  TEXT,
  enabled            INTEGER NOT NULL DEFAULT 1,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  UNIQUE (namespace, name)
);
