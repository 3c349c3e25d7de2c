-- Up Migration
-- Host key changes (§8.4, issue 13): a device presenting another host key than its pin is refused,
-- and the key it presented is kept here as a pending change until an approver of the device's
-- department (or an admin) confirms the re-pin. At most one change per device is pending: a device
-- presenting yet another key supersedes it, so a confirmation always names the key seen last.
CREATE TABLE device_host_key_changes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  device_id uuid NOT NULL REFERENCES devices (id),
  key_type text NOT NULL CHECK (length(key_type) BETWEEN 1 AND 100),
  fingerprint text NOT NULL CHECK (fingerprint ~ '^SHA256:[A-Za-z0-9+/]{43}$'),
  public_key text NOT NULL CHECK (length(public_key) BETWEEN 1 AND 16384),
  -- the pin the device was checked against when the key was first seen
  pinned_fingerprint text NOT NULL CHECK (pinned_fingerprint ~ '^SHA256:[A-Za-z0-9+/]{43}$'),
  first_seen_at timestamptz NOT NULL,
  -- what saw it first: {kind: 'session'|'test', grantId?, technicianId?, actorId?}
  first_seen_by jsonb NOT NULL CHECK (jsonb_typeof(first_seen_by) = 'object'),
  last_seen_at timestamptz NOT NULL,
  times_seen integer NOT NULL DEFAULT 1 CHECK (times_seen >= 1),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'repinned', 'superseded')),
  resolved_at timestamptz,
  resolved_by uuid REFERENCES users (id),
  CHECK ((status = 'pending') = (resolved_at IS NULL)),
  CHECK (status = 'repinned' OR resolved_by IS NULL)
);
CREATE UNIQUE INDEX device_host_key_changes_one_pending ON device_host_key_changes (device_id) WHERE status = 'pending';
CREATE INDEX device_host_key_changes_device ON device_host_key_changes (device_id, first_seen_at DESC);

-- Optional password rotation (§8.4): a static-password device whose login may change its own password
-- names a chpasswd-style command (it reads `user:newpassword` on stdin). A rotation seals the next
-- password as pending, like a key rotation, so a crash mid-way never loses the login.
ALTER TABLE device_credentials ADD COLUMN password_rotation_command text
  CHECK (password_rotation_command IS NULL OR (length(password_rotation_command) BETWEEN 1 AND 500 AND password_rotation_command !~ '[\r\n]'));
ALTER TABLE device_credentials ADD CONSTRAINT device_credentials_rotation_command_kind
  CHECK (password_rotation_command IS NULL OR kind = 'password');
ALTER TABLE device_credentials DROP CONSTRAINT device_credentials_pending_complete;
ALTER TABLE device_credentials ADD CONSTRAINT device_credentials_pending_complete CHECK (
  (pending_ciphertext IS NULL) = (pending_nonce IS NULL) AND (pending_nonce IS NULL) = (pending_auth_tag IS NULL)
  AND (pending_auth_tag IS NULL) = (pending_created_at IS NULL)
  -- a pending key has its public half; a pending password has none
  AND (pending_public_key IS NOT NULL) = (pending_ciphertext IS NOT NULL AND kind = 'key')
  AND (pending_ciphertext IS NULL OR kind = 'key' OR (kind = 'password' AND password_rotation_command IS NOT NULL)));

-- Down Migration
UPDATE device_credentials SET pending_nonce = NULL, pending_ciphertext = NULL, pending_auth_tag = NULL, pending_created_at = NULL
  WHERE kind = 'password';
ALTER TABLE device_credentials DROP CONSTRAINT device_credentials_pending_complete;
ALTER TABLE device_credentials ADD CONSTRAINT device_credentials_pending_complete CHECK (
  (pending_ciphertext IS NULL) = (pending_nonce IS NULL) AND (pending_nonce IS NULL) = (pending_auth_tag IS NULL)
  AND (pending_auth_tag IS NULL) = (pending_public_key IS NULL) AND (pending_public_key IS NULL) = (pending_created_at IS NULL)
  AND (pending_ciphertext IS NULL OR kind = 'key'));
ALTER TABLE device_credentials DROP CONSTRAINT device_credentials_rotation_command_kind;
ALTER TABLE device_credentials DROP COLUMN password_rotation_command;
DROP TABLE device_host_key_changes;
