-- Up Migration
CREATE TABLE decisions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  request_id uuid NOT NULL REFERENCES access_requests (id),
  approver_id uuid NOT NULL REFERENCES users (id),
  decision text NOT NULL CHECK (decision IN ('approve', 'deny')),
  comment text CHECK (comment IS NULL OR length(comment) <= 2000),
  channel text NOT NULL CHECK (channel IN ('web', 'slack-link')),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT decisions_one_per_approver UNIQUE (request_id, approver_id)
);

-- Down Migration
DROP TABLE decisions;
