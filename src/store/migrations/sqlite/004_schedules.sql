-- Schedules: cron and rate triggers that fire async invocations (src/triggers/schedule).
-- A schedule goes with its function: deleting the function deletes its schedules (cascade).
CREATE TABLE schedules (
  id                  TEXT PRIMARY KEY,
  namespace           TEXT NOT NULL REFERENCES namespaces(name),
  name                TEXT NOT NULL,
  function_id         TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
  function_name       TEXT NOT NULL,
  qualifier           TEXT,
  expression          TEXT NOT NULL,
  timezone            TEXT NOT NULL,
  data_json           TEXT NOT NULL,
  missed_fire_policy  TEXT NOT NULL CHECK (missed_fire_policy IN ('skip', 'run-once')),
  enabled             INTEGER NOT NULL,
  description         TEXT NOT NULL DEFAULT '',
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  -- fire state: the scheduled time of the last fire and of the next one (NULL while paused)
  last_fire_at        INTEGER,
  next_fire_at        INTEGER,
  last_invocation_id  TEXT,
  last_error          TEXT,
  UNIQUE (namespace, name)
);
CREATE INDEX schedules_by_function ON schedules (function_id);
