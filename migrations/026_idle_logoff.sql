-- Up Migration
-- Automatic logoff: minutes without technician input before a session is cut (0 = off; fractions allowed).
ALTER TABLE devices ADD COLUMN idle_timeout_minutes numeric NOT NULL DEFAULT 15
  CHECK (idle_timeout_minutes >= 0 AND idle_timeout_minutes <= 1440);
-- a session cut for inactivity ends as 'idle'
ALTER TABLE sessions DROP CONSTRAINT sessions_end_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_end_reason_check
  CHECK (end_reason IN ('client_closed', 'device_closed', 'expired', 'revoked', 'idle', 'error'));

-- Down Migration
ALTER TABLE sessions DROP CONSTRAINT sessions_end_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_end_reason_check
  CHECK (end_reason IN ('client_closed', 'device_closed', 'expired', 'revoked', 'error'));
ALTER TABLE devices DROP COLUMN idle_timeout_minutes;
