-- Up Migration
-- which proxy process relays a session: after a crash, that process closes what it left open
ALTER TABLE sessions ADD COLUMN proxy_instance text;
CREATE INDEX sessions_open_by_instance ON sessions (proxy_instance) WHERE ended_at IS NULL;

-- Down Migration
DROP INDEX sessions_open_by_instance;
ALTER TABLE sessions DROP COLUMN proxy_instance;
