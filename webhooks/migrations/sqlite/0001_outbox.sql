-- The palisade-webhooks outbox (SQLite). Times are milliseconds since the
-- Unix epoch; JSON columns hold arrays of strings.

CREATE TABLE event_types (
    name        TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL,
    schema      TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY NOT NULL,
    application     TEXT NOT NULL,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    event_types     TEXT,
    channels        TEXT,
    rate_limit      INTEGER,
    max_concurrency INTEGER,
    ordered         INTEGER NOT NULL DEFAULT 0,
    headers         TEXT NOT NULL DEFAULT '[]',
    disabled_reason TEXT,
    disabled_at     INTEGER,
    failing_since   INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX endpoints_by_application ON endpoints (application, created_at);

CREATE TABLE endpoint_secrets (
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    secret      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);
CREATE INDEX endpoint_secrets_by_endpoint ON endpoint_secrets (endpoint_id);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY NOT NULL,
    application     TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    channels        TEXT NOT NULL DEFAULT '[]',
    payload         BLOB,
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (application, idempotency_key)
);
CREATE INDEX messages_by_created_at ON messages (created_at);

-- `due_at` is when a worker should next look at the delivery: the next
-- attempt for pending and failed_retrying ones, the end of the lease for
-- delivering ones, NULL once finished. Claiming is one range scan of the
-- partial index below.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      INTEGER,
    lease_token TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_by_message ON deliveries (message_id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, state, id);
CREATE INDEX deliveries_by_lease ON deliveries (lease_token) WHERE lease_token IS NOT NULL;

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    message_id  TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT,
    latency_us  INTEGER NOT NULL,
    excerpt     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_by_message ON attempts (message_id, id);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id);
CREATE INDEX deliveries_dead ON deliveries (endpoint_id, id) WHERE state = 'dead';
