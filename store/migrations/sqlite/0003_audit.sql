-- The audit trail (issue 12), SQLite flavour: store/audit.py writes and verifies it.
-- Records are append-only and hash-chained per account. The head (last seq and hash) is kept
-- in its own table so that a record deleted from the end of a chain still shows. Personal
-- data lives in audit_contents, content-addressed by sha256, so it can be erased (body set to
-- NULL, a tombstone kept) while the records that name it stay intact.

CREATE TABLE audit_records (
    account_id TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 1),
    record_key TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,  -- canonical JSON
    recorded_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (account_id, seq),
    UNIQUE (account_id, record_key)
);

CREATE TABLE audit_heads (
    account_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,  -- 0 until the first record
    hash TEXT NOT NULL
);

CREATE TABLE audit_contents (
    sha256 TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    body BLOB,  -- NULL once erased
    erased_at TEXT
);

CREATE TABLE audit_content_refs (
    account_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (account_id, sha256)
);
CREATE INDEX audit_content_refs_sha256 ON audit_content_refs (sha256);

-- The database, not only the code, refuses to rewrite history.

CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit_records is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit_records is append-only: DELETE refused');
END;

CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads
BEGIN
    SELECT RAISE(ABORT, 'audit_heads only moves forward: DELETE refused');
END;

CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE ON audit_heads
WHEN NEW.account_id IS NOT OLD.account_id OR NEW.seq <= OLD.seq
BEGIN
    SELECT RAISE(ABORT, 'audit_heads only moves forward: UPDATE refused');
END;

CREATE TRIGGER audit_contents_no_delete BEFORE DELETE ON audit_contents
BEGIN
    SELECT RAISE(ABORT, 'audit_contents keeps its tombstones: DELETE refused');
END;

-- The only updates: erasure (body to NULL, saying when) and the restore of an erased body by
-- the same bytes (store/audit.py checks the hash, verify finds any other body).
CREATE TRIGGER audit_contents_erase_only BEFORE UPDATE ON audit_contents
WHEN NEW.sha256 IS NOT OLD.sha256
    OR NEW.media_type IS NOT OLD.media_type
    OR (NEW.body IS NULL AND NEW.erased_at IS NULL)
    OR (OLD.body IS NOT NULL AND NEW.body IS NOT NULL AND NEW.body IS NOT OLD.body)
BEGIN
    SELECT RAISE(ABORT, 'audit_contents may only be erased: UPDATE refused');
END;
