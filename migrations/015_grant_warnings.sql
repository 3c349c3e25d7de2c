-- Up Migration
-- each expiry warning is given once per grant end (an extension resets them)
ALTER TABLE grants ADD COLUMN warned_5_at timestamptz, ADD COLUMN warned_1_at timestamptz;

-- Down Migration
ALTER TABLE grants DROP COLUMN warned_5_at, DROP COLUMN warned_1_at;
