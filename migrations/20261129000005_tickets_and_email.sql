-- Support tickets (DESIGN §4). A ticket is `open` while it waits for support, `awaiting_reply`
-- while support waits for the user, and `closed`.
CREATE TABLE tickets (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subject         TEXT   NOT NULL CHECK (char_length(subject) BETWEEN 3 AND 120),
    category        TEXT   NOT NULL CHECK (category IN ('billing', 'technical', 'account', 'other')),
    status          TEXT   NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'awaiting_reply', 'closed')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_message_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX tickets_user ON tickets (user_id, last_message_at DESC);
CREATE INDEX tickets_queue ON tickets (status, last_message_at);

CREATE TABLE ticket_messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id  BIGINT  NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_id  BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    from_staff BOOLEAN NOT NULL,
    -- A note between admins: never shown to the user, never mailed.
    internal   BOOLEAN NOT NULL DEFAULT false,
    body       TEXT    NOT NULL CHECK (char_length(body) BETWEEN 1 AND 10000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (from_staff OR NOT internal)
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);

-- Transactional outbox: an email is written in the transaction of the change that causes it and
-- sent by a worker afterwards, with retries; nothing is lost while SMTP is down.
CREATE TABLE email_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL,
    to_address      TEXT NOT NULL CHECK (char_length(to_address) <= 254),
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    -- Notices sent once per occasion (e.g. the 80% usage warning of one period).
    once_key        TEXT UNIQUE,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    sent_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE sent_at IS NULL;

-- Single-use links sent by email: address verification and password reset. Only the SHA-256 of
-- the token is kept.
CREATE TABLE email_tokens (
    token_hash BYTEA PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT   NOT NULL CHECK (purpose IN ('verify', 'reset')),
    -- The address it went to: a verification counts only while the account still has it.
    email      CITEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);
