-- Up Migration
CREATE TABLE devices (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- the name is the SSH principal technicians connect as: keep it a safe identifier
  name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
  manufacturer text NOT NULL CHECK (length(manufacturer) BETWEEN 1 AND 200),
  model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
  serial_number text CHECK (serial_number IS NULL OR length(serial_number) BETWEEN 1 AND 200),
  firmware_baseline text NOT NULL CHECK (length(firmware_baseline) BETWEEN 1 AND 200),
  department text NOT NULL CHECK (length(department) BETWEEN 1 AND 200),
  clinical_purpose text NOT NULL CHECK (length(clinical_purpose) BETWEEN 1 AND 1000),
  criticality text NOT NULL CHECK (criticality IN ('low', 'medium', 'high', 'critical')),
  address text NOT NULL CHECK (length(address) BETWEEN 1 AND 253),
  ssh_port integer NOT NULL DEFAULT 22 CHECK (ssh_port BETWEEN 1 AND 65535),
  host_key text,
  lifecycle_state text NOT NULL DEFAULT 'staged'
    CHECK (lifecycle_state IN ('staged', 'deployed', 'suspended', 'retired')),
  max_session_minutes integer NOT NULL DEFAULT 60 CHECK (max_session_minutes BETWEEN 1 AND 1440),
  approvals_required smallint NOT NULL CHECK (approvals_required IN (1, 2)),
  approver_department text NOT NULL CHECK (length(approver_department) BETWEEN 1 AND 200),
  maintenance_window jsonb,
  allow_exec boolean NOT NULL DEFAULT true,
  allow_port_forwarding boolean NOT NULL DEFAULT false,
  allow_sftp boolean NOT NULL DEFAULT false,
  retired_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT devices_retired_at CHECK ((lifecycle_state = 'retired') = (retired_at IS NOT NULL)),
  -- a deployed device always has its identity pinned
  CONSTRAINT devices_deployed_host_key CHECK (lifecycle_state <> 'deployed' OR host_key IS NOT NULL)
);
CREATE UNIQUE INDEX devices_name_key ON devices (name);
CREATE INDEX devices_department_idx ON devices (department);

-- Down Migration
DROP TABLE devices;
