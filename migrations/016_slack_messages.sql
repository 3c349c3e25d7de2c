-- Up Migration
-- Every Slack message posted about an access request (the channel post and each approver's DM), so it
-- can be updated with the outcome (chat.update needs the channel id Slack answered with and the ts).
CREATE TABLE slack_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  request_id uuid NOT NULL REFERENCES access_requests (id),
  kind text NOT NULL CHECK (kind IN ('channel', 'dm')),
  -- the approver a DM was sent to; NULL for the channel post
  approver_id uuid REFERENCES users (id),
  channel text NOT NULL CHECK (length(channel) BETWEEN 1 AND 100),
  ts text NOT NULL CHECK (ts ~ '^[0-9]+\.[0-9]+$'),
  posted_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz,
  CONSTRAINT slack_messages_dm_approver CHECK ((kind = 'dm') = (approver_id IS NOT NULL)),
  CONSTRAINT slack_messages_message_key UNIQUE (channel, ts)
);
-- one channel post and one DM per approver per request
CREATE UNIQUE INDEX slack_messages_one_channel_post ON slack_messages (request_id) WHERE kind = 'channel';
CREATE UNIQUE INDEX slack_messages_one_dm ON slack_messages (request_id, approver_id) WHERE kind = 'dm';

-- Down Migration
DROP TABLE slack_messages;
