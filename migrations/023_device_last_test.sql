-- Up Migration
-- The last connection test of a device (before deployment, or on demand): when, whether it passed, and why not.
ALTER TABLE devices ADD COLUMN last_test_at timestamptz;
ALTER TABLE devices ADD COLUMN last_test_ok boolean;
ALTER TABLE devices ADD COLUMN last_test_reason text CHECK (last_test_reason IS NULL OR length(last_test_reason) <= 500);
ALTER TABLE devices ADD CONSTRAINT devices_last_test_complete CHECK ((last_test_at IS NULL) = (last_test_ok IS NULL));

-- Down Migration
ALTER TABLE devices DROP CONSTRAINT devices_last_test_complete;
ALTER TABLE devices DROP COLUMN last_test_reason;
ALTER TABLE devices DROP COLUMN last_test_ok;
ALTER TABLE devices DROP COLUMN last_test_at;
