-- Durable async invocations (src/async): events, dead letters, idempotency keys, per-function
-- async config. Never edit a shipped migration: add a new numbered file.

-- One row per accepted event. `seq` (the rowid) orders events due in the same millisecond.
CREATE TABLE async_events (
  seq                 INTEGER PRIMARY KEY,
  id                  TEXT NOT NULL UNIQUE,
  namespace           TEXT NOT NULL,
  function_id         TEXT NOT NULL,
  function_name       TEXT NOT NULL,
  qualifier           TEXT,
  source              TEXT NOT NULL,
  payload             TEXT NOT NULL,
  -- how many destination hops led to this event (bounds destination chains)
  depth               INTEGER NOT NULL DEFAULT 0,
  status              TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  attempts            INTEGER NOT NULL DEFAULT 0,
  enqueued_at         INTEGER NOT NULL,
  next_attempt_at     INTEGER,
  lease_until         INTEGER,
  -- bumped by every claim: a transition from a stale claim changes nothing
  lease_token         INTEGER NOT NULL DEFAULT 0,
  first_attempt_at    INTEGER,
  finished_at         INTEGER,
  result              TEXT,
  result_bytes        INTEGER,
  error               TEXT,
  history             TEXT NOT NULL DEFAULT '[]',
  dead_letter         TEXT,
  destination         TEXT,
  -- the destination record while a webhook delivery is pending (redelivered after a crash)
  destination_record  TEXT
);
-- claims: the due events of one function in order; and a skip scan over it finds the functions with queued events
CREATE INDEX async_events_queued ON async_events (function_id, next_attempt_at, seq) WHERE status = 'queued';
CREATE INDEX async_events_leases ON async_events (lease_until) WHERE status = 'running';
CREATE INDEX async_events_by_function_status ON async_events (function_id, status, seq);
CREATE INDEX async_events_finished ON async_events (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX async_events_pending_delivery ON async_events (seq) WHERE destination_record IS NOT NULL;

-- Events whose retries or maximum age ran out; kept until redriven or purged.
CREATE TABLE async_dead_letters (
  event_id          TEXT PRIMARY KEY,
  namespace         TEXT NOT NULL,
  function_id       TEXT NOT NULL,
  function_name     TEXT NOT NULL,
  qualifier         TEXT,
  source            TEXT NOT NULL,
  payload           TEXT NOT NULL,
  depth             INTEGER NOT NULL,
  reason            TEXT NOT NULL CHECK (reason IN ('RetriesExhausted', 'EventAgeExceeded')),
  attempts          INTEGER NOT NULL,
  error             TEXT,
  enqueued_at       INTEGER NOT NULL,
  dead_lettered_at  INTEGER NOT NULL
);
CREATE INDEX async_dead_letters_by_function ON async_dead_letters (function_id, dead_lettered_at);

CREATE TABLE async_idempotency_keys (
  namespace    TEXT NOT NULL,
  function_id  TEXT NOT NULL,
  key          TEXT NOT NULL,
  event_id     TEXT NOT NULL,
  expires_at   INTEGER NOT NULL,
  PRIMARY KEY (namespace, function_id, key)
) WITHOUT ROWID;
CREATE INDEX async_idempotency_expiry ON async_idempotency_keys (expires_at);

-- Lambda's "event invoke config": per function, mutable, not part of a version.
CREATE TABLE async_configs (
  function_id          TEXT PRIMARY KEY,
  namespace            TEXT NOT NULL,
  retries              INTEGER NOT NULL,
  max_event_age_s      INTEGER NOT NULL,
  on_success           TEXT,
  on_failure           TEXT,
  updated_at           INTEGER NOT NULL
);
