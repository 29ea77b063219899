-- Personal access tokens for the customer API: 256-bit, shown once, stored as SHA-256.
CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    token_hash   BYTEA NOT NULL UNIQUE,
    scopes       TEXT[] NOT NULL CHECK (cardinality(scopes) > 0
                 AND scopes <@ ARRAY['clients:read', 'clients:write', 'account:read', 'usage:read']),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    last_used_ip TEXT,
    revoked_at   TIMESTAMPTZ
);
-- The account page lists a user's tokens, newest first.
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at DESC);

-- Creates made with an Idempotency-Key: a retry with the same key gets the first answer back.
-- `status` is NULL while the first request is still being answered.
CREATE TABLE api_idempotency (
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key         TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    status      SMALLINT,
    body        TEXT,
    PRIMARY KEY (user_id, key)
);
-- Keys are kept a day; the upkeep deletes older ones in creation order.
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);
