-- Flag definitions (native JSON, one row per flag) and their audit log.
CREATE TABLE IF NOT EXISTS flags (
    key         TEXT PRIMARY KEY NOT NULL,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL  -- milliseconds since the Unix epoch
);

-- Append-only: every create, update, delete and revert, with the definition
-- before and after (NULL when the flag did not exist on that side).
CREATE TABLE IF NOT EXISTS flag_audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    flag_key  TEXT NOT NULL,
    version   INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    at        INTEGER NOT NULL,  -- milliseconds since the Unix epoch
    action    TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'revert')),
    before    TEXT,
    after     TEXT,
    reason    TEXT,
    UNIQUE (flag_key, version)
);

CREATE TRIGGER IF NOT EXISTS flag_audit_no_update BEFORE UPDATE ON flag_audit
BEGIN
    SELECT RAISE(ABORT, 'flag_audit is append-only');
END;

CREATE TRIGGER IF NOT EXISTS flag_audit_no_delete BEFORE DELETE ON flag_audit
BEGIN
    SELECT RAISE(ABORT, 'flag_audit is append-only');
END;
