-- The audit trail (issue 12), PostgreSQL flavour: store/audit.py writes and verifies it.
-- Records are append-only and hash-chained per account. The head (last seq and hash) is kept
-- in its own table so that a record deleted from the end of a chain still shows; appends lock
-- the head row (SELECT ... FOR UPDATE), so one account's chain never forks. Personal data
-- lives in audit_contents, content-addressed by sha256, so it can be erased (body set to
-- NULL, a tombstone kept) while the records that name it stay intact.

CREATE TABLE audit_records (
    account_id text NOT NULL,
    seq bigint NOT NULL CHECK (seq >= 1),
    record_key text NOT NULL,
    at timestamptz NOT NULL,
    kind text NOT NULL,
    body text NOT NULL,  -- canonical JSON (text, not jsonb: kept byte for byte)
    recorded_at timestamptz NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (account_id, seq),
    UNIQUE (account_id, record_key)
);

CREATE TABLE audit_heads (
    account_id text PRIMARY KEY,
    seq bigint NOT NULL,  -- 0 until the first record
    hash text NOT NULL
);

CREATE TABLE audit_contents (
    sha256 text PRIMARY KEY,
    media_type text NOT NULL,
    body bytea,  -- NULL once erased
    erased_at timestamptz
);

CREATE TABLE audit_content_refs (
    account_id text NOT NULL,
    sha256 text NOT NULL,
    PRIMARY KEY (account_id, sha256)
);
CREATE INDEX audit_content_refs_sha256 ON audit_content_refs (sha256);

-- The database, not only the code, refuses to rewrite history.

CREATE FUNCTION audit_records_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records is append-only: % refused', TG_OP;
END;
$$;

CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_refuse();
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_refuse();

CREATE FUNCTION audit_heads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.account_id IS DISTINCT FROM OLD.account_id
            OR NEW.seq <= OLD.seq THEN
        RAISE EXCEPTION 'audit_heads only moves forward: % refused', TG_OP;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE OR DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_heads_guard();
CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_heads_guard();

-- A body is stored only under its own sha256. The only updates: erasure (body to NULL,
-- saying when) and the restore of an erased body by the same bytes.
CREATE FUNCTION audit_contents_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'audit_contents keeps its tombstones: % refused', TG_OP;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.sha256 IS DISTINCT FROM OLD.sha256
            OR NEW.media_type IS DISTINCT FROM OLD.media_type) THEN
        RAISE EXCEPTION 'audit_contents may only be erased: UPDATE refused';
    END IF;
    IF NEW.body IS NULL AND NEW.erased_at IS NULL THEN
        RAISE EXCEPTION 'audit_contents: a body is erased with erased_at set';
    END IF;
    IF NEW.body IS NOT NULL AND encode(sha256(NEW.body), 'hex') <> NEW.sha256 THEN
        RAISE EXCEPTION 'audit_contents: the body does not hash to its sha256: % refused', TG_OP;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_contents_erase_only BEFORE INSERT OR UPDATE OR DELETE ON audit_contents
    FOR EACH ROW EXECUTE FUNCTION audit_contents_guard();
CREATE TRIGGER audit_contents_no_truncate BEFORE TRUNCATE ON audit_contents
    FOR EACH STATEMENT EXECUTE FUNCTION audit_contents_guard();
