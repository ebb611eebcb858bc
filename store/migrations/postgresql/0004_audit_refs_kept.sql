-- The audit trail, PostgreSQL flavour: an account's references to its contents are kept.
-- `erase` finds what to erase through audit_content_refs: a reference deleted or moved to
-- another account would leave that personal data behind unnoticed, and `verify` checks an
-- erasure against every account referring to the content. Rows are only ever inserted.

CREATE FUNCTION audit_content_refs_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_content_refs is append-only: % refused', TG_OP;
END;
$$;

CREATE TRIGGER audit_content_refs_append_only BEFORE UPDATE OR DELETE ON audit_content_refs
    FOR EACH ROW EXECUTE FUNCTION audit_content_refs_refuse();
CREATE TRIGGER audit_content_refs_no_truncate BEFORE TRUNCATE ON audit_content_refs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_content_refs_refuse();
