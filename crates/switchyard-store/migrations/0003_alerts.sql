-- Spend alerts that fired: each alert fires at most once per calendar month.
CREATE TABLE alert_events (
    alert         TEXT NOT NULL,
    month         TEXT NOT NULL,      -- YYYY-MM, local time
    fired_ms      INTEGER NOT NULL,
    subject       TEXT NOT NULL,      -- 'gateway' or the key's name
    spent_usd     REAL NOT NULL,
    threshold_usd REAL NOT NULL,
    limit_usd     REAL,
    PRIMARY KEY (alert, month)
) WITHOUT ROWID;
