-- Every change an admin (or an operator at the CLI) makes: who, what, to what, before and after,
-- from where. Append-only: the application has no update or delete path, and the database
-- refuses them too.
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- The admin's username at the time, or `cli` for an operator's command.
    actor       TEXT NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 64),
    action      TEXT NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_0-9]+$'),
    target_type TEXT NOT NULL CHECK (char_length(target_type) BETWEEN 1 AND 32),
    target_id   TEXT NOT NULL CHECK (char_length(target_id) BETWEEN 1 AND 64),
    before      JSONB,
    after       JSONB,
    ip          TEXT CHECK (char_length(ip) <= 64),
    request_id  TEXT CHECK (char_length(request_id) <= 64)
);
CREATE INDEX audit_log_actor ON audit_log (actor, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id DESC);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
