-- Up Migration
-- "now" requests start when the last approval lands: the clock never starts at request time.
ALTER TABLE access_requests ADD COLUMN starts_on_approval boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE access_requests DROP COLUMN starts_on_approval;
