-- A user's active clients, kept by a trigger so every path that adds, revokes or removes a
-- client (the portal, an operator's SQL) keeps it exact. The limit check reads it instead of
-- counting the user's clients, which grew with them.
ALTER TABLE users ADD COLUMN active_clients integer NOT NULL DEFAULT 0;
UPDATE users u SET active_clients = (SELECT count(*) FROM clients c WHERE c.user_id = u.id AND c.status = 'active');

CREATE FUNCTION clients_count_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'active' THEN
    UPDATE users SET active_clients = active_clients - 1 WHERE id = OLD.user_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'active' THEN
    UPDATE users SET active_clients = active_clients + 1 WHERE id = NEW.user_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER clients_count_active AFTER INSERT OR DELETE OR UPDATE OF status, user_id ON clients
  FOR EACH ROW EXECUTE FUNCTION clients_count_active();

-- Revoked clients still holding their address (the grace period): few, found by this index.
CREATE INDEX clients_user_revoked_holding ON clients (user_id, revoked_at)
  WHERE status = 'revoked' AND address IS NOT NULL;
