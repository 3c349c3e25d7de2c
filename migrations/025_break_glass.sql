-- Up Migration
-- Break-glass (§8.6): emergency access without prior approval where the device's policy allows it,
-- capped by its own maximum, reviewed by an approver afterwards.
ALTER TABLE devices
  ADD COLUMN break_glass boolean NOT NULL DEFAULT false,
  ADD COLUMN break_glass_max_minutes integer NOT NULL DEFAULT 30 CHECK (break_glass_max_minutes BETWEEN 1 AND 240);

-- the request record of an emergency access is kind 'break_glass' (closed as approved when it is made)
ALTER TABLE access_requests DROP CONSTRAINT access_requests_kind_check;
ALTER TABLE access_requests ADD CONSTRAINT access_requests_kind_check CHECK (kind IN ('access', 'extension', 'break_glass'));

-- the grant carries the emergency mark and its after-the-fact review
ALTER TABLE grants
  ADD COLUMN emergency boolean NOT NULL DEFAULT false,
  ADD COLUMN review_due_at timestamptz,
  ADD COLUMN reviewed_at timestamptz,
  ADD COLUMN reviewed_by uuid REFERENCES users (id),
  ADD COLUMN review_outcome text CHECK (review_outcome IN ('justified', 'unjustified')),
  ADD COLUMN review_comment text CHECK (review_comment IS NULL OR length(review_comment) <= 2000),
  ADD COLUMN review_escalated_at timestamptz,
  ADD CONSTRAINT grants_review_emergency CHECK (emergency = (review_due_at IS NOT NULL)),
  ADD CONSTRAINT grants_review_whole CHECK (
    (reviewed_at IS NULL) = (review_outcome IS NULL) AND (reviewed_at IS NULL) = (reviewed_by IS NULL));
-- a technician holds at most one unreviewed break-glass grant: the backstop of the core's check,
-- so two emergency calls at once cannot both succeed
CREATE UNIQUE INDEX grants_one_unreviewed_emergency ON grants (technician_id) WHERE emergency AND reviewed_at IS NULL;

-- Down Migration
DROP INDEX grants_one_unreviewed_emergency;
ALTER TABLE grants
  DROP CONSTRAINT grants_review_whole,
  DROP CONSTRAINT grants_review_emergency,
  DROP COLUMN review_escalated_at,
  DROP COLUMN review_comment,
  DROP COLUMN review_outcome,
  DROP COLUMN reviewed_by,
  DROP COLUMN reviewed_at,
  DROP COLUMN review_due_at,
  DROP COLUMN emergency;
ALTER TABLE access_requests DROP CONSTRAINT access_requests_kind_check;
UPDATE access_requests SET kind = 'access' WHERE kind = 'break_glass';
ALTER TABLE access_requests ADD CONSTRAINT access_requests_kind_check CHECK (kind IN ('access', 'extension'));
ALTER TABLE devices DROP COLUMN break_glass_max_minutes, DROP COLUMN break_glass;
