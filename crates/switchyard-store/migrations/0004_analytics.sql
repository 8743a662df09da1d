-- Analytics: two more facts per request, rollups the writer keeps up to date, retention.

-- What the cache-read tokens saved at the model's prices (NULL when unpriced).
ALTER TABLE requests ADD COLUMN cache_savings_usd REAL;
-- Names of the tool calls in the answer, as a JSON array (NULL when none).
ALTER TABLE requests ADD COLUMN tool_calls TEXT;

-- One row per UTC hour, dimension and value (dim 0 is every request, value '').
-- dim: 0 all, 1 model, 2 provider, 3 key (id), 4 policy, 5 user, 6 branch, 7 repo,
-- 8 agent, 9 status, 10 tag. Histograms are sparse log-spaced bucket counts.
CREATE TABLE rollup_hour (
    dim                   INTEGER NOT NULL,
    bucket_ms             INTEGER NOT NULL,
    value                 TEXT NOT NULL,
    requests              INTEGER NOT NULL,
    errors                INTEGER NOT NULL,
    input_tokens          INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    reasoning_tokens      INTEGER NOT NULL,
    cost_usd              REAL NOT NULL,
    unpriced              INTEGER NOT NULL,
    savings_usd           REAL NOT NULL,
    latency_sum           REAL NOT NULL,
    latency_min           REAL,
    latency_max           REAL,
    latency_hist          BLOB,
    ttft_count            INTEGER NOT NULL,
    ttft_sum              REAL NOT NULL,
    ttft_min              REAL,
    ttft_max              REAL,
    ttft_hist             BLOB,
    tps_tokens            INTEGER NOT NULL,
    tps_ms                REAL NOT NULL,
    tools                 TEXT,            -- JSON object: tool name -> calls
    PRIMARY KEY (dim, bucket_ms, value)
) WITHOUT ROWID;

-- The same per local day (bucket_ms is the day's first instant in the zone the
-- writer ran in; rollup_days says where each day ends).
CREATE TABLE rollup_day (
    dim                   INTEGER NOT NULL,
    bucket_ms             INTEGER NOT NULL,
    value                 TEXT NOT NULL,
    requests              INTEGER NOT NULL,
    errors                INTEGER NOT NULL,
    input_tokens          INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    reasoning_tokens      INTEGER NOT NULL,
    cost_usd              REAL NOT NULL,
    unpriced              INTEGER NOT NULL,
    savings_usd           REAL NOT NULL,
    latency_sum           REAL NOT NULL,
    latency_min           REAL,
    latency_max           REAL,
    latency_hist          BLOB,
    ttft_count            INTEGER NOT NULL,
    ttft_sum              REAL NOT NULL,
    ttft_min              REAL,
    ttft_max              REAL,
    ttft_hist             BLOB,
    tps_tokens            INTEGER NOT NULL,
    tps_ms                REAL NOT NULL,
    tools                 TEXT,
    PRIMARY KEY (dim, bucket_ms, value)
) WITHOUT ROWID;

CREATE TABLE rollup_days (
    start_ms INTEGER PRIMARY KEY,
    end_ms   INTEGER NOT NULL
);

-- Raw rows older than this many days are deleted (rollups are kept); 0 keeps them.
INSERT INTO meta(key, value) VALUES ('retention_days', '90');
-- Raw rows before this instant may have been deleted by retention.
INSERT INTO meta(key, value) VALUES ('raw_horizon_ms', '0');
