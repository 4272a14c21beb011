-- Segments (native JSON, one row per segment) and their audit log, kept
-- like the flags: a version per segment and an append-only history.
CREATE TABLE IF NOT EXISTS palisade_flag_segments (
    id          BIGINT PRIMARY KEY NOT NULL,
    version     BIGINT NOT NULL,
    definition  JSONB NOT NULL,
    updated_at  BIGINT NOT NULL  -- milliseconds since the Unix epoch
);

CREATE TABLE IF NOT EXISTS palisade_flag_segment_audit (
    id          BIGSERIAL PRIMARY KEY,
    segment_id  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    at          BIGINT NOT NULL,  -- milliseconds since the Unix epoch
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'revert')),
    before      JSONB,
    after       JSONB,
    reason      TEXT,
    UNIQUE (segment_id, version)
);

CREATE OR REPLACE FUNCTION palisade_flag_segment_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'palisade_flag_segment_audit is append-only';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS palisade_flag_segment_audit_append_only ON palisade_flag_segment_audit;
CREATE TRIGGER palisade_flag_segment_audit_append_only BEFORE UPDATE OR DELETE ON palisade_flag_segment_audit
    FOR EACH ROW EXECUTE FUNCTION palisade_flag_segment_audit_append_only();
