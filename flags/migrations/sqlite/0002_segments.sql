-- Segments (native JSON, one row per segment) and their audit log, kept
-- like the flags: a version per segment and an append-only history.
CREATE TABLE IF NOT EXISTS flag_segments (
    id          INTEGER PRIMARY KEY NOT NULL,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL  -- milliseconds since the Unix epoch
);

CREATE TABLE IF NOT EXISTS flag_segment_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    segment_id  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    at          INTEGER NOT NULL,  -- milliseconds since the Unix epoch
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'revert')),
    before      TEXT,
    after       TEXT,
    reason      TEXT,
    UNIQUE (segment_id, version)
);

CREATE TRIGGER IF NOT EXISTS flag_segment_audit_no_update BEFORE UPDATE ON flag_segment_audit
BEGIN
    SELECT RAISE(ABORT, 'flag_segment_audit is append-only');
END;

CREATE TRIGGER IF NOT EXISTS flag_segment_audit_no_delete BEFORE DELETE ON flag_segment_audit
BEGIN
    SELECT RAISE(ABORT, 'flag_segment_audit is append-only');
END;
