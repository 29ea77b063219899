-- Users and their browser sessions.
CREATE EXTENSION IF NOT EXISTS citext;

CREATE TABLE users (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username          CITEXT NOT NULL CHECK (char_length(username) BETWEEN 3 AND 32),
    email             CITEXT NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    password_hash     TEXT   NOT NULL,
    role              TEXT   NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    status            TEXT   NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    email_verified_at TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email)
);

-- The session token itself is never stored: only its SHA-256.
CREATE TABLE sessions (
    token_hash   BYTEA PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    id           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT   NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    ip           TEXT,
    user_agent   TEXT CHECK (char_length(user_agent) <= 256)
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id, last_seen_at DESC);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
