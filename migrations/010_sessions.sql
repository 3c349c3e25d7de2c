-- Up Migration
CREATE TABLE sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  grant_id uuid NOT NULL REFERENCES grants (id),
  technician_id uuid NOT NULL REFERENCES users (id),
  device_id uuid NOT NULL REFERENCES devices (id),
  channel text NOT NULL CHECK (channel IN ('shell', 'exec', 'browser', 'sftp', 'forward')),
  command text,
  client_address text,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  end_reason text CHECK (end_reason IN ('client_closed', 'device_closed', 'expired', 'revoked', 'error')),
  bytes_in bigint NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),
  bytes_out bigint NOT NULL DEFAULT 0 CHECK (bytes_out >= 0),
  CONSTRAINT sessions_ended CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
CREATE INDEX sessions_grant_idx ON sessions (grant_id);
CREATE INDEX sessions_started_idx ON sessions (started_at DESC);

-- Down Migration
DROP TABLE sessions;
