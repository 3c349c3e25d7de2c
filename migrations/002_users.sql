-- Up Migration
CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  roles text[] NOT NULL CHECK (
    cardinality(roles) >= 1
    AND roles <@ ARRAY['admin', 'approver', 'auditor', 'technician']::text[]
  ),
  vendor_id uuid REFERENCES vendors (id),
  department text CHECK (department IS NULL OR length(department) BETWEEN 1 AND 200),
  password_hash text NOT NULL,
  slack_user_id text CHECK (slack_user_id IS NULL OR slack_user_id ~ '^[UW][A-Z0-9]{2,20}$'),
  disabled_at timestamptz,
  failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
  locked_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- a technician always belongs to a vendor; an approver always to a department
  CONSTRAINT users_technician_vendor CHECK (NOT ('technician' = ANY (roles)) OR vendor_id IS NOT NULL),
  CONSTRAINT users_approver_department CHECK (NOT ('approver' = ANY (roles)) OR department IS NOT NULL)
);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE INDEX users_vendor_idx ON users (vendor_id);

-- Down Migration
DROP TABLE users;
