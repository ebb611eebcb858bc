-- The shared store, SQLite flavour (one machine). Timestamps are UTC text of a fixed width,
-- 2038-01-04T06:00:00.000000+00:00, so text comparison orders them as instants.

CREATE TABLE sends (
    idempotency_key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'in_doubt', 'sent', 'unconfirmed')),
    channel TEXT NOT NULL,
    provider TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    content_hash TEXT NOT NULL DEFAULT '',
    message_id TEXT,
    sent_at TEXT
);
CREATE INDEX sends_message_id ON sends (message_id);
CREATE INDEX sends_state_claimed_at ON sends (state, claimed_at);
CREATE INDEX sends_sent_at ON sends (sent_at);

CREATE TABLE call_scripts (
    token TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    locale TEXT NOT NULL,
    language TEXT NOT NULL,
    voice TEXT NOT NULL,
    text TEXT NOT NULL,
    saved_at TEXT NOT NULL
);
CREATE INDEX call_scripts_saved_at ON call_scripts (saved_at);

CREATE TABLE email_events (
    sg_event_id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL,
    sg_message_id TEXT NOT NULL,
    processed_at TEXT NOT NULL
);
CREATE INDEX email_events_idempotency_key ON email_events (idempotency_key);
CREATE INDEX email_events_processed_at ON email_events (processed_at);

CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    next_free REAL NOT NULL  -- Unix seconds of the next free slot
);

CREATE TABLE accounts (
    workflow_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    closed_at TEXT,
    status TEXT
);
