-- The audit trail, SQLite flavour: an account's references to its contents are kept.
-- `erase` finds what to erase through audit_content_refs: a reference deleted or moved to
-- another account would leave that personal data behind unnoticed, and `verify` checks an
-- erasure against every account referring to the content. Rows are only ever inserted.

CREATE TRIGGER audit_content_refs_no_delete BEFORE DELETE ON audit_content_refs
BEGIN
    SELECT RAISE(ABORT, 'audit_content_refs is append-only: DELETE refused');
END;

CREATE TRIGGER audit_content_refs_no_update BEFORE UPDATE ON audit_content_refs
BEGIN
    SELECT RAISE(ABORT, 'audit_content_refs is append-only: UPDATE refused');
END;
