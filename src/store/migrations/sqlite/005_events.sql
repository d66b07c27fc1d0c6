-- Event bus rules (src/triggers/events). Never edit a shipped migration: add a new numbered file.

-- A rule sends every published event of its namespace that matches its EventBridge pattern to
-- one function, as an async invocation. Events themselves are not stored here: an accepted
-- event lives on as the async invocations it became.
CREATE TABLE event_rules (
  id            TEXT PRIMARY KEY,
  namespace     TEXT NOT NULL REFERENCES namespaces(name),
  name          TEXT NOT NULL,
  -- the pattern's JSON text, validated when the rule was created
  pattern_json  TEXT NOT NULL,
  -- deleting a function deletes its rules, as it does its routes
  function_id   TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
  qualifier     TEXT,
  enabled       INTEGER NOT NULL DEFAULT 1,
  description   TEXT NOT NULL DEFAULT '',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  UNIQUE (namespace, name)
);
CREATE INDEX event_rules_by_function ON event_rules (function_id);
