-- Up Migration
CREATE TABLE grants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  request_id uuid NOT NULL UNIQUE REFERENCES access_requests (id),
  technician_id uuid NOT NULL REFERENCES users (id),
  device_id uuid NOT NULL REFERENCES devices (id),
  status text NOT NULL CHECK (status IN ('scheduled', 'active', 'expired', 'revoked')),
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  activated_at timestamptz,
  ended_at timestamptz,
  revoked_by uuid REFERENCES users (id),
  end_reason text CHECK (end_reason IS NULL OR length(end_reason) <= 2000),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT grants_window CHECK (ends_at > starts_at),
  CONSTRAINT grants_ended CHECK ((status IN ('expired', 'revoked')) = (ended_at IS NOT NULL))
);
CREATE INDEX grants_status_idx ON grants (status, ends_at);
CREATE INDEX grants_device_idx ON grants (device_id, status);
CREATE INDEX grants_technician_idx ON grants (technician_id, status);
ALTER TABLE access_requests
  ADD CONSTRAINT access_requests_extends_grant_fk FOREIGN KEY (extends_grant_id) REFERENCES grants (id);

-- Down Migration
ALTER TABLE access_requests DROP CONSTRAINT access_requests_extends_grant_fk;
DROP TABLE grants;
