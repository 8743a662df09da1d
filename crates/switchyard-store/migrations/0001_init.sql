-- Switchyard schema, version 1.
-- Key/value facts about the database itself, e.g. the config version the gateway polls.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The applied configuration document (canonical TOML). One row.
CREATE TABLE config (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    document   TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- Gateway keys: only a SHA-256 hash of the secret is kept.
CREATE TABLE gateway_keys (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
-- A name can be reused once the key that held it is revoked.
CREATE UNIQUE INDEX gateway_keys_active_name ON gateway_keys(name) WHERE revoked_ms IS NULL;

-- The request log: one slim row per model request, successful or not.
-- Token counts are disjoint buckets; reasoning_tokens is the part of output_tokens spent reasoning.
CREATE TABLE requests (
    id                    INTEGER PRIMARY KEY,
    request_id            TEXT NOT NULL,
    ts_ms                 INTEGER NOT NULL,
    key_id                INTEGER,
    client_api            TEXT NOT NULL,
    requested_model       TEXT,
    provider              TEXT,
    upstream_model        TEXT,
    stream                INTEGER NOT NULL,
    status                INTEGER NOT NULL,
    error_kind            TEXT,
    error_message         TEXT,
    input_tokens          INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
    cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens         INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens      INTEGER NOT NULL DEFAULT 0,
    cost_usd              REAL,            -- NULL when the model has no known price
    latency_ms            REAL NOT NULL,
    ttft_ms               REAL,
    upstream_ms           REAL,
    overhead_ms           REAL,
    user_id               TEXT,
    trace_id              TEXT,
    session_id            TEXT,
    branch                TEXT,
    repo                  TEXT,
    agent                 TEXT,
    tags                  TEXT,            -- JSON array
    extra                 TEXT             -- JSON object
);
CREATE INDEX requests_ts ON requests(ts_ms);

INSERT INTO meta(key, value) VALUES ('config_version', '0');
