-- The node API: node tokens and heartbeats, the event watermark, per-user data limits,
-- connection history (partitioned by month on started_at) and daily usage.

ALTER TABLE nodes
    ADD COLUMN token_hash       BYTEA CHECK (octet_length(token_hash) = 32),
    ADD COLUMN token_rotated_at TIMESTAMPTZ,
    -- Every event seq up to here is stored (or was rejected): the highest contiguous seq.
    ADD COLUMN acked_seq        BIGINT NOT NULL DEFAULT 0 CHECK (acked_seq >= 0),
    ADD CONSTRAINT nodes_token_hash_key UNIQUE (token_hash);

-- Bytes (rx + tx) a user may use per period; NULL is unlimited. Plans will set it later.
ALTER TABLE users ADD COLUMN data_limit_bytes BIGINT CHECK (data_limit_bytes >= 0);

-- Seqs a node sent above its watermark (out of order): a repeat of one of them changes nothing.
-- Rows at or below the watermark are deleted; the watermark alone answers for them.
CREATE TABLE node_event_seqs (
    node_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL CHECK (seq > 0),
    PRIMARY KEY (node_id, seq)
);

-- Identity columns need PostgreSQL 17 on partitioned tables: a plain sequence instead.
CREATE SEQUENCE connection_sessions_id_seq AS BIGINT;

CREATE TABLE connection_sessions (
    id             BIGINT NOT NULL DEFAULT nextval('connection_sessions_id_seq'),
    node_id        BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    client_id      UUID   NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id        BIGINT NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    ended_at       TIMESTAMPTZ,
    remote_address TEXT CHECK (char_length(remote_address) <= 64),
    rx_bytes       BIGINT NOT NULL DEFAULT 0 CHECK (rx_bytes >= 0),
    tx_bytes       BIGINT NOT NULL DEFAULT 0 CHECK (tx_bytes >= 0),
    -- The node's last cumulative counters of this connection, and the time of that reading:
    -- a later, lower reading is a counter reset; an earlier one is late and already counted.
    counter_rx     BIGINT NOT NULL DEFAULT 0,
    counter_tx     BIGINT NOT NULL DEFAULT 0,
    counter_at     TIMESTAMPTZ,
    -- False when usage arrived before (or without) the connect event.
    connect_seen   BOOLEAN NOT NULL DEFAULT true,
    PRIMARY KEY (id, started_at)
) PARTITION BY RANGE (started_at);
ALTER SEQUENCE connection_sessions_id_seq OWNED BY connection_sessions.id;

-- Rows outside every monthly partition land here; the portal makes partitions ahead so it stays empty.
CREATE TABLE connection_sessions_default PARTITION OF connection_sessions DEFAULT;

CREATE INDEX connection_sessions_user_idx ON connection_sessions (user_id, started_at DESC, id DESC);
CREATE INDEX connection_sessions_client_idx ON connection_sessions (client_id, started_at DESC, id DESC);
CREATE INDEX connection_sessions_open_idx ON connection_sessions (node_id) WHERE ended_at IS NULL;

CREATE TABLE usage_daily (
    client_id UUID   NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    day       DATE   NOT NULL,
    user_id   BIGINT NOT NULL,
    rx_bytes  BIGINT NOT NULL DEFAULT 0 CHECK (rx_bytes >= 0),
    tx_bytes  BIGINT NOT NULL DEFAULT 0 CHECK (tx_bytes >= 0),
    PRIMARY KEY (client_id, day)
);
CREATE INDEX usage_daily_user_day_idx ON usage_daily (user_id, day) INCLUDE (rx_bytes, tx_bytes);
