-- Up Migration
-- SIEM streaming (§8.7): the audit table itself is the outbox. Each sink keeps one cursor, the last
-- seq it delivered; a delivery advances it in the same transaction that holds the row lock, so a
-- restart resumes after it and only one worker delivers per sink (SELECT … FOR UPDATE SKIP LOCKED).
CREATE TABLE siem_cursors (
  sink text PRIMARY KEY CHECK (sink ~ '^[a-z0-9][a-z0-9._:-]{0,99}$'),
  last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  delivered_at timestamptz,
  failures bigint NOT NULL DEFAULT 0 CHECK (failures >= 0),
  last_error text,
  last_error_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE siem_cursors;
