-- Plans, subscriptions, payments (DESIGN §4). Money is integer minor units.
CREATE TABLE plans (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             CITEXT  NOT NULL CHECK (char_length(name) BETWEEN 2 AND 40),
    price_cents      BIGINT  NOT NULL CHECK (price_cents BETWEEN 0 AND 100000000),
    currency         TEXT    NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    period_days      INTEGER NOT NULL CHECK (period_days BETWEEN 1 AND 3660),
    max_clients      INTEGER NOT NULL CHECK (max_clients BETWEEN 0 AND 1000000),
    data_limit_bytes BIGINT  CHECK (data_limit_bytes > 0),
    active           BOOLEAN NOT NULL DEFAULT true,
    -- What a user without a current subscription gets; at most one plan is the free plan.
    free             BOOLEAN NOT NULL DEFAULT false,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT plans_name_key UNIQUE (name),
    CONSTRAINT plans_free_costs_nothing CHECK (NOT free OR price_cents = 0)
);
CREATE UNIQUE INDEX plans_one_free ON plans (free) WHERE free;

-- The service users had before plans existed: five clients, no data limit. An operator who sells
-- only paid plans deactivates it or takes its free flag away.
INSERT INTO plans (name, price_cents, currency, period_days, max_clients, data_limit_bytes, free)
VALUES ('Free', 0, 'USD', 30, 5, NULL, true);

-- At most one subscription per user. Paid time runs from `period_anchor` to `current_period_end`
-- in periods of the plan's length; a plan bought while another runs starts at `next_plan_from`.
CREATE TABLE subscriptions (
    user_id            BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    plan_id            BIGINT NOT NULL REFERENCES plans (id),
    period_anchor      TIMESTAMPTZ NOT NULL,
    current_period_end TIMESTAMPTZ NOT NULL,
    next_plan_id       BIGINT REFERENCES plans (id),
    next_plan_from     TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((next_plan_id IS NULL) = (next_plan_from IS NULL)),
    CHECK (current_period_end >= period_anchor)
);
CREATE INDEX subscriptions_period_end ON subscriptions (current_period_end);
CREATE INDEX subscriptions_next_plan_from ON subscriptions (next_plan_from) WHERE next_plan_from IS NOT NULL;

CREATE TABLE payments (
    id            UUID PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan_id       BIGINT NOT NULL REFERENCES plans (id),
    provider      TEXT   NOT NULL CHECK (provider IN ('stripe', 'manual')),
    -- Stripe: the checkout session id; manual: the reference the user quotes with the transfer.
    provider_ref  TEXT   CHECK (char_length(provider_ref) <= 255),
    -- Stripe: the payment intent, which refunds and failures name.
    provider_intent TEXT CHECK (char_length(provider_intent) <= 255),
    amount_cents  BIGINT NOT NULL CHECK (amount_cents >= 0),
    currency      TEXT   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The plan's period when it was bought: what crediting adds and a refund takes back.
    period_days   INTEGER NOT NULL CHECK (period_days > 0),
    status        TEXT   NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'failed', 'refunded')),
    -- A retried checkout (double click, reload) finds its first payment instead of making another.
    idempotency_key TEXT CHECK (char_length(idempotency_key) <= 100),
    failure       TEXT   CHECK (char_length(failure) <= 500),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    paid_at       TIMESTAMPTZ,
    refunded_at   TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT payments_provider_ref_key UNIQUE (provider, provider_ref),
    CONSTRAINT payments_idempotency_key UNIQUE (user_id, idempotency_key),
    CONSTRAINT payments_provider_intent_key UNIQUE (provider, provider_intent)
);
CREATE INDEX payments_user ON payments (user_id, created_at DESC);
CREATE INDEX payments_status ON payments (status, created_at DESC);

-- Provider events already handled: a replayed webhook finds its id here and changes nothing.
CREATE TABLE payment_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL CHECK (char_length(event_id) <= 255),
    event_type  TEXT NOT NULL,
    payment_id  UUID REFERENCES payments (id) ON DELETE SET NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);

-- The start of the usage period `at` falls in, for periods of `days` days from `anchor`.
CREATE FUNCTION period_start_at(anchor timestamptz, days integer, at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT anchor + make_interval(days => (floor(extract(epoch FROM at - anchor) / 86400.0 / days) * days)::int)
$$;

-- What each user gets now: the plan of their current subscription (the next plan once its time
-- has come), else the free plan, else nothing (`plan_id` NULL: no peers on nodes, no new clients).
-- Usage periods run from the subscription's anchor; without one, they are calendar months (UTC).
CREATE VIEW entitlements AS
WITH current AS (
    SELECT s.user_id, s.current_period_end,
           CASE WHEN s.next_plan_from <= now() THEN s.next_plan_id ELSE s.plan_id END AS plan_id,
           CASE WHEN s.next_plan_from <= now() THEN s.next_plan_from ELSE s.period_anchor END AS anchor
    FROM subscriptions s WHERE s.current_period_end > now()
)
SELECT u.id AS user_id,
       p.id AS plan_id,
       p.name::text AS plan_name,
       cur.user_id IS NOT NULL AS paid,
       cur.current_period_end,
       coalesce(p.max_clients, 0) AS max_clients,
       LEAST(u.data_limit_bytes, p.data_limit_bytes) AS data_limit_bytes,
       (CASE WHEN cur.user_id IS NOT NULL THEN period_start_at(cur.anchor, p.period_days, now())
             ELSE date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' END) AS period_start
FROM users u
LEFT JOIN current cur ON cur.user_id = u.id
LEFT JOIN plans p ON p.id = coalesce(cur.plan_id, (SELECT f.id FROM plans f WHERE f.free AND f.active));
