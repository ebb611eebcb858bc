-- The shared store, PostgreSQL flavour (many workers, many hosts).

CREATE TABLE sends (
    idempotency_key text PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('pending', 'in_doubt', 'sent', 'unconfirmed')),
    channel text NOT NULL,
    provider text NOT NULL,
    claimed_at timestamptz NOT NULL,
    content_hash text NOT NULL DEFAULT '',
    message_id text,
    sent_at timestamptz
);
CREATE INDEX sends_message_id ON sends (message_id);
CREATE INDEX sends_state_claimed_at ON sends (state, claimed_at);
CREATE INDEX sends_sent_at ON sends (sent_at);

CREATE TABLE call_scripts (
    token text PRIMARY KEY,
    account_id text NOT NULL,
    idempotency_key text NOT NULL,
    locale text NOT NULL,
    language text NOT NULL,
    voice text NOT NULL,
    text text NOT NULL,
    saved_at timestamptz NOT NULL
);
CREATE INDEX call_scripts_saved_at ON call_scripts (saved_at);

CREATE TABLE email_events (
    sg_event_id text PRIMARY KEY,
    idempotency_key text NOT NULL,
    sg_message_id text NOT NULL,
    processed_at timestamptz NOT NULL
);
CREATE INDEX email_events_idempotency_key ON email_events (idempotency_key);
CREATE INDEX email_events_processed_at ON email_events (processed_at);

CREATE TABLE rate_limits (
    key text PRIMARY KEY,
    next_free double precision NOT NULL  -- Unix seconds of the next free slot
);

CREATE TABLE accounts (
    workflow_id text PRIMARY KEY,
    account_id text NOT NULL,
    started_at timestamptz NOT NULL,
    closed_at timestamptz,
    status text
);
