-- Up Migration
-- Supervised sessions (policy.supervision = 'required'): the technician's input is held until an
-- approver of the device's department watches the session live. Existing devices keep 'none'; new
-- critical devices default to 'required'.
ALTER TABLE devices ADD COLUMN supervision text NOT NULL DEFAULT 'none' CHECK (supervision IN ('none', 'required'));

-- who watches a live session as its supervisor; seen_at is refreshed while the watch is open, so a
-- watch whose process died stops counting without anyone closing it
CREATE TABLE session_supervisors (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL REFERENCES sessions (id),
  user_id uuid NOT NULL REFERENCES users (id),
  joined_at timestamptz NOT NULL,
  seen_at timestamptz NOT NULL,
  left_at timestamptz,
  CHECK (seen_at >= joined_at),
  CHECK (left_at IS NULL OR left_at >= joined_at)
);
CREATE INDEX session_supervisors_open ON session_supervisors (session_id) WHERE left_at IS NULL;

-- Down Migration
DROP TABLE session_supervisors;
ALTER TABLE devices DROP COLUMN supervision;
