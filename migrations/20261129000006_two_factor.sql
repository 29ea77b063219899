-- Two-factor sign-in (TOTP, RFC 6238) with single-use recovery codes.
ALTER TABLE users
    -- The secret, sealed like the other keys (AES-256-GCM under PORTAL_SECRET_KEY).
    ADD COLUMN totp_secret_sealed BYTEA,
    -- A secret shown for setup, until a correct code turns it on.
    ADD COLUMN totp_pending_sealed BYTEA,
    ADD COLUMN totp_enabled_at TIMESTAMPTZ,
    -- The last time step a code was accepted for: a code is accepted once (RFC 6238 §5.2).
    ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT users_totp_enabled_has_secret CHECK ((totp_enabled_at IS NULL) = (totp_secret_sealed IS NULL));

-- Only the SHA-256 of each code is kept (60 random bits each).
CREATE TABLE recovery_codes (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BYTEA  NOT NULL CHECK (octet_length(code_hash) = 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- Whether the session was started with a second factor (the session list shows it; admin pages
-- need it).
ALTER TABLE sessions ADD COLUMN two_factor BOOLEAN NOT NULL DEFAULT false;

-- The half-signed-in state between password and code: five minutes, bound to the browser by a
-- cookie holding the token whose hash is the key, and good for nothing but the second step.
CREATE TABLE login_challenges (
    token_hash BYTEA PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_challenges_expires ON login_challenges (expires_at);
