-- Aviary schema v1 (SQLite). Never edit a shipped migration: add a new numbered file.
CREATE TABLE namespaces (
  name        TEXT PRIMARY KEY,
  created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  namespace    TEXT NOT NULL REFERENCES namespaces(name),
  role         TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'invoker')),
  token_hash   TEXT NOT NULL UNIQUE,
  description  TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL
);

CREATE TABLE functions (
  id              TEXT PRIMARY KEY,
  namespace       TEXT NOT NULL REFERENCES namespaces(name),
  name            TEXT NOT NULL,
  latest_version  INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (namespace, name)
);

CREATE TABLE versions (
  function_id     TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
  version         INTEGER NOT NULL,
  runtime         TEXT NOT NULL,
  handler         TEXT,
  memory_mb       INTEGER NOT NULL,
  timeout_s       INTEGER NOT NULL,
  env_json        TEXT NOT NULL,
  max_instances   INTEGER NOT NULL,
  min_warm        INTEGER NOT NULL,
  description     TEXT NOT NULL,
  package_digest  TEXT NOT NULL,
  build_id        TEXT NOT NULL,
  code_size       INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (function_id, version)
);

CREATE TABLE routes (
  id           TEXT PRIMARY KEY,
  namespace    TEXT NOT NULL REFERENCES namespaces(name),
  method       TEXT NOT NULL,
  path         TEXT NOT NULL,
  function_id  TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
  qualifier    TEXT,
  created_at   INTEGER NOT NULL,
  UNIQUE (method, path)
);

-- written for every invocation: an integer rowid keeps inserts cheap (a random uuid key costs
-- ~5x more per row); ids are looked up rarely, through logs_by_invocation
CREATE TABLE invocations (
  seq            INTEGER PRIMARY KEY,
  id             TEXT NOT NULL,
  namespace      TEXT NOT NULL,
  function_id    TEXT NOT NULL,
  version        INTEGER NOT NULL,
  source         TEXT NOT NULL,
  status         TEXT NOT NULL,
  cold           INTEGER NOT NULL,
  started_at     INTEGER NOT NULL,
  duration_ms    REAL NOT NULL,
  init_ms        REAL,
  error_type     TEXT,
  error_message  TEXT
);
CREATE INDEX invocations_by_function ON invocations (function_id, started_at);

CREATE TABLE logs (
  seq            INTEGER PRIMARY KEY,
  invocation_id  TEXT NOT NULL,
  function_id    TEXT NOT NULL,
  version        INTEGER NOT NULL,
  time           INTEGER NOT NULL,
  stream         TEXT NOT NULL,
  message        TEXT NOT NULL
);
CREATE INDEX logs_by_function ON logs (function_id, seq);
CREATE INDEX logs_by_invocation ON logs (invocation_id, seq);
CREATE INDEX logs_by_time ON logs (time);

INSERT INTO namespaces (name, created_at) VALUES ('default', CAST(strftime('%s', 'now') AS INTEGER) * 1000);
