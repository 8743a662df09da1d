-- Routing: which policy served a request, and every attempt it took.
ALTER TABLE requests ADD COLUMN policy TEXT;
ALTER TABLE requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;

-- One row per attempt, written only for requests that took more than one.
CREATE TABLE request_attempts (
    request_row   INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    status        INTEGER NOT NULL,
    error_kind    TEXT,
    error_message TEXT,
    latency_ms    REAL NOT NULL,
    PRIMARY KEY (request_row, attempt)
) WITHOUT ROWID;
