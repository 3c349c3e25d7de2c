-- Up Migration
CREATE TABLE access_requests (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind text NOT NULL DEFAULT 'access' CHECK (kind IN ('access', 'extension')),
  technician_id uuid NOT NULL REFERENCES users (id),
  device_id uuid NOT NULL REFERENCES devices (id),
  extends_grant_id uuid,
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  ticket_ref text NOT NULL CHECK (length(ticket_ref) BETWEEN 1 AND 200),
  starts_at timestamptz NOT NULL,
  duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
  approvals_required smallint NOT NULL CHECK (approvals_required IN (1, 2)),
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
  expires_at timestamptz NOT NULL,
  closed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT access_requests_extension_grant CHECK ((kind = 'extension') = (extends_grant_id IS NOT NULL)),
  CONSTRAINT access_requests_closed CHECK ((status = 'pending') = (closed_at IS NULL))
);
-- one open request per technician and device
CREATE UNIQUE INDEX access_requests_one_pending ON access_requests (technician_id, device_id)
  WHERE status = 'pending';
CREATE INDEX access_requests_status_idx ON access_requests (status, expires_at);

-- Down Migration
DROP TABLE access_requests;
