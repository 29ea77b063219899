-- Admin search by username or email prefix, fast at a million users: the lower-cased value in
-- byte order ("C"), so one index serves the prefix LIKE, the order of the list and its keyset.
CREATE INDEX users_username_prefix ON users ((lower(username::text) COLLATE "C"), id);
CREATE INDEX users_email_prefix ON users ((lower(email::text) COLLATE "C"), id);
-- The overview's sign-ups and revenue per day.
CREATE INDEX users_created ON users (created_at);
CREATE INDEX payments_paid_at ON payments (paid_at) WHERE status = 'paid';
-- The clients panel: newest first.
CREATE INDEX clients_created ON clients (created_at DESC, id DESC);
