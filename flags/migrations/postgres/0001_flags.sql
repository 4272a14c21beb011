-- Flag definitions (native JSON, one row per flag) and their audit log.
CREATE TABLE IF NOT EXISTS palisade_flags (
    key         TEXT PRIMARY KEY NOT NULL,
    version     BIGINT NOT NULL,
    definition  JSONB NOT NULL,
    updated_at  BIGINT NOT NULL  -- milliseconds since the Unix epoch
);

-- Append-only: every create, update, delete and revert, with the definition
-- before and after (NULL when the flag did not exist on that side).
CREATE TABLE IF NOT EXISTS palisade_flag_audit (
    id        BIGSERIAL PRIMARY KEY,
    flag_key  TEXT NOT NULL,
    version   BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    at        BIGINT NOT NULL,  -- milliseconds since the Unix epoch
    action    TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'revert')),
    before    JSONB,
    after     JSONB,
    reason    TEXT,
    UNIQUE (flag_key, version)
);

CREATE OR REPLACE FUNCTION palisade_flag_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'palisade_flag_audit is append-only';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS palisade_flag_audit_append_only ON palisade_flag_audit;
CREATE TRIGGER palisade_flag_audit_append_only BEFORE UPDATE OR DELETE ON palisade_flag_audit
    FOR EACH ROW EXECUTE FUNCTION palisade_flag_audit_append_only();
