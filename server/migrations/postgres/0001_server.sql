-- The reference server's own tables, beside the webhook outbox.

-- API keys: the secret is never stored, only its SHA-256.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,               -- 16 hex digits, public
    name        TEXT NOT NULL,
    secret_hash BYTEA NOT NULL,                 -- SHA-256 of the 64-hex secret
    scope       TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    tier        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,                -- Unix milliseconds
    revoked_at  BIGINT                          -- Unix milliseconds, NULL while valid
);

-- Every change made through the API, newest last.
CREATE TABLE audit_log (
    id     BIGSERIAL PRIMARY KEY,
    actor  TEXT NOT NULL,
    at     BIGINT NOT NULL,                     -- Unix milliseconds
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,                                -- JSON
    after  TEXT                                 -- JSON
);
