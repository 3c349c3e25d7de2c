-- Up Migration
-- Single-use Slack approval links: the signed token carries the jti; this row is what makes it
-- single use (consumed by a conditional UPDATE in the transaction that records the decision).
-- The token itself is never stored.
CREATE TABLE approval_links (
  jti uuid PRIMARY KEY,
  request_id uuid NOT NULL REFERENCES access_requests (id),
  approver_id uuid NOT NULL REFERENCES users (id),
  action text NOT NULL CHECK (action IN ('approve', 'deny')),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  CONSTRAINT approval_links_validity CHECK (expires_at > created_at)
);
CREATE INDEX approval_links_request_idx ON approval_links (request_id, approver_id);

-- Down Migration
DROP TABLE approval_links;
