-- Up Migration
-- A decision made with a bearer token (a script, an integration) is recorded as 'api'; the console's cookie as 'web'.
ALTER TABLE decisions DROP CONSTRAINT decisions_channel_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_channel_check CHECK (channel IN ('web', 'api', 'slack-link'));

-- Down Migration
UPDATE decisions SET channel = 'web' WHERE channel = 'api';
ALTER TABLE decisions DROP CONSTRAINT decisions_channel_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_channel_check CHECK (channel IN ('web', 'slack-link'));
