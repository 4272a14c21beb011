-- The palisade-webhooks outbox (Postgres). Times are milliseconds since the
-- Unix epoch (BIGINT), exactly as in the SQLite schema; JSONB columns hold
-- arrays of strings (headers: arrays of [name, value] pairs).

CREATE TABLE event_types (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    schema      JSONB,
    created_at  BIGINT NOT NULL
);

CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY,
    application     TEXT NOT NULL,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    event_types     JSONB,
    channels        JSONB,
    rate_limit      BIGINT,
    max_concurrency BIGINT,
    ordered         BOOLEAN NOT NULL DEFAULT FALSE,
    headers         JSONB NOT NULL DEFAULT '[]',
    disabled_reason TEXT,
    disabled_at     BIGINT,
    failing_since   BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX endpoints_by_application ON endpoints (application, created_at);
-- Claims look at the enabled ordered endpoints, publishes at the ordered
-- endpoints of one application; most endpoints are not ordered.
CREATE INDEX endpoints_ordered ON endpoints (application, id) WHERE ordered;

CREATE TABLE endpoint_secrets (
    id          BIGSERIAL PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT
);
CREATE INDEX endpoint_secrets_by_endpoint ON endpoint_secrets (endpoint_id);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    application     TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    channels        JSONB NOT NULL DEFAULT '[]',
    payload         BYTEA,
    idempotency_key TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (application, idempotency_key)
);
CREATE INDEX messages_by_created_at ON messages (created_at);

-- `due_at` is when a worker should next look at the delivery: the next
-- attempt for pending and failed_retrying ones, the end of the lease for
-- delivering ones, NULL once finished. Claiming is one range scan of the
-- partial index below.
CREATE TABLE deliveries (
    id          BIGSERIAL PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    due_at      BIGINT,
    lease_token TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (due_at, id) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_by_message ON deliveries (message_id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, state, id);
CREATE INDEX deliveries_by_lease ON deliveries (lease_token) WHERE lease_token IS NOT NULL;
CREATE INDEX deliveries_dead ON deliveries (endpoint_id, id) WHERE state = 'dead';
-- The ordered-endpoint checks look for unfinished deliveries of one endpoint.
CREATE INDEX deliveries_unfinished ON deliveries (endpoint_id, id) WHERE due_at IS NOT NULL;

CREATE TABLE attempts (
    id          BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    message_id  TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    at          BIGINT NOT NULL,
    status      BIGINT,
    error       TEXT,
    latency_us  BIGINT NOT NULL,
    excerpt     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_by_message ON attempts (message_id, id);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id);
