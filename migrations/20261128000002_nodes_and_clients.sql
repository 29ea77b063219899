-- VPN nodes, the portal's OpenVPN CA, and users' VPN clients.

-- One row: the CA the portal made on its first start. Keys are sealed (AES-256-GCM).
CREATE TABLE pki (
    id                   BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    ca_cert_pem          TEXT  NOT NULL,
    ca_key_sealed        BYTEA NOT NULL,
    tls_crypt_key_sealed BYTEA NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  CITEXT NOT NULL CHECK (name ~ '^[A-Za-z0-9_.-]{2,50}$'),
    region                TEXT   NOT NULL CHECK (char_length(region) BETWEEN 1 AND 50),
    host                  TEXT   NOT NULL CHECK (char_length(host) BETWEEN 1 AND 253),
    wireguard_port        INT    NOT NULL DEFAULT 51820 CHECK (wireguard_port BETWEEN 1 AND 65535),
    openvpn_port          INT    NOT NULL DEFAULT 1194 CHECK (openvpn_port BETWEEN 1 AND 65535),
    phazevpn_port         INT    NOT NULL DEFAULT 443 CHECK (phazevpn_port BETWEEN 1 AND 65535),
    protocols             TEXT[] NOT NULL CHECK (protocols <@ ARRAY['openvpn', 'wireguard', 'phazevpn'] AND cardinality(protocols) > 0),
    address_pool          TEXT   NOT NULL,
    dns                   TEXT   NOT NULL DEFAULT '1.1.1.1, 1.0.0.1',
    wg_public_key         TEXT   NOT NULL,
    wg_private_key_sealed BYTEA,
    active                BOOLEAN NOT NULL DEFAULT true,
    last_seen_at          TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT nodes_name_key UNIQUE (name),
    CONSTRAINT nodes_address_pool_key UNIQUE (address_pool)
);

CREATE TABLE clients (
    id                 UUID PRIMARY KEY,
    user_id            BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    node_id            BIGINT NOT NULL REFERENCES nodes (id),
    name               TEXT   NOT NULL CHECK (name ~ '^[A-Za-z0-9_-]{3,50}$'),
    protocol           TEXT   NOT NULL CHECK (protocol IN ('openvpn', 'wireguard', 'phazevpn')),
    status             TEXT   NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    -- x25519 public key (WireGuard, PhazeVPN); the private key or OpenVPN key PEM, sealed.
    public_key         TEXT,
    private_key_sealed BYTEA  NOT NULL,
    cert_pem           TEXT,
    cert_serial        TEXT,
    -- Tunnel address; a revoked client's is released after a grace period (set to NULL).
    address            TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at         TIMESTAMPTZ,
    CONSTRAINT clients_address_key UNIQUE (address),
    CONSTRAINT clients_cert_serial_key UNIQUE (cert_serial),
    CONSTRAINT clients_revoked_at_check CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE UNIQUE INDEX clients_active_name_key ON clients (user_id, lower(name)) WHERE status = 'active';
CREATE INDEX clients_user_idx ON clients (user_id, created_at);
CREATE INDEX clients_node_active_idx ON clients (node_id) WHERE status = 'active';
CREATE INDEX clients_revoked_serial_idx ON clients (revoked_at) WHERE status = 'revoked' AND cert_serial IS NOT NULL;
