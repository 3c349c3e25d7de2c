-- Up Migration
-- Device credential kinds (§8.4): 'certificate' (the proxy presents a fresh device-CA certificate per
-- connection: the row holds the login name and no secret at all), 'key' (a broker-generated ed25519 key,
-- rotated by the broker) beside the static 'password' and 'private_key'. A rotation first seals the new
-- key as pending, so a crash mid-rotation finishes on restart with both keys still in hand.
ALTER TABLE device_credentials DROP CONSTRAINT device_credentials_kind_check;
ALTER TABLE device_credentials ADD CONSTRAINT device_credentials_kind_check
  CHECK (kind IN ('password', 'private_key', 'key', 'certificate'));
ALTER TABLE device_credentials ALTER COLUMN nonce DROP NOT NULL;
ALTER TABLE device_credentials ALTER COLUMN ciphertext DROP NOT NULL;
ALTER TABLE device_credentials ALTER COLUMN auth_tag DROP NOT NULL;
ALTER TABLE device_credentials ADD CONSTRAINT device_credentials_secret_by_kind CHECK (
  (kind = 'certificate') = (ciphertext IS NULL) AND (ciphertext IS NULL) = (nonce IS NULL) AND (nonce IS NULL) = (auth_tag IS NULL));
-- when the current secret (or mode) was set; rotated_at stays "when it last changed"
ALTER TABLE device_credentials ADD COLUMN issued_at timestamptz;
UPDATE device_credentials SET issued_at = COALESCE(rotated_at, created_at);
ALTER TABLE device_credentials ALTER COLUMN issued_at SET NOT NULL;
ALTER TABLE device_credentials ALTER COLUMN issued_at SET DEFAULT now();
-- kind 'key': the public half installed on the device (not a secret)
ALTER TABLE device_credentials ADD COLUMN public_key text CHECK (public_key IS NULL OR length(public_key) <= 1000);
ALTER TABLE device_credentials ADD CONSTRAINT device_credentials_key_public CHECK ((kind = 'key') = (public_key IS NOT NULL));
-- a rotation in progress: the next key, sealed like the current one
ALTER TABLE device_credentials ADD COLUMN pending_nonce bytea CHECK (pending_nonce IS NULL OR length(pending_nonce) = 12);
ALTER TABLE device_credentials ADD COLUMN pending_ciphertext bytea;
ALTER TABLE device_credentials ADD COLUMN pending_auth_tag bytea CHECK (pending_auth_tag IS NULL OR length(pending_auth_tag) = 16);
ALTER TABLE device_credentials ADD COLUMN pending_public_key text CHECK (pending_public_key IS NULL OR length(pending_public_key) <= 1000);
ALTER TABLE device_credentials ADD COLUMN pending_created_at timestamptz;
ALTER TABLE device_credentials ADD CONSTRAINT device_credentials_pending_complete CHECK (
  (pending_ciphertext IS NULL) = (pending_nonce IS NULL) AND (pending_nonce IS NULL) = (pending_auth_tag IS NULL)
  AND (pending_auth_tag IS NULL) = (pending_public_key IS NULL) AND (pending_public_key IS NULL) = (pending_created_at IS NULL)
  AND (pending_ciphertext IS NULL OR kind = 'key'));
-- the device is flagged when a rotation failed after its retries (cleared by the next success)
ALTER TABLE device_credentials ADD COLUMN rotation_failed_at timestamptz;
ALTER TABLE device_credentials ADD COLUMN rotation_failure text CHECK (rotation_failure IS NULL OR length(rotation_failure) <= 500);
ALTER TABLE device_credentials ADD CONSTRAINT device_credentials_failure_complete CHECK ((rotation_failed_at IS NULL) = (rotation_failure IS NULL));

-- Down Migration
DELETE FROM device_credentials WHERE kind IN ('key', 'certificate');
ALTER TABLE device_credentials DROP CONSTRAINT device_credentials_failure_complete;
ALTER TABLE device_credentials DROP COLUMN rotation_failure;
ALTER TABLE device_credentials DROP COLUMN rotation_failed_at;
ALTER TABLE device_credentials DROP CONSTRAINT device_credentials_pending_complete;
ALTER TABLE device_credentials DROP COLUMN pending_created_at;
ALTER TABLE device_credentials DROP COLUMN pending_public_key;
ALTER TABLE device_credentials DROP COLUMN pending_auth_tag;
ALTER TABLE device_credentials DROP COLUMN pending_ciphertext;
ALTER TABLE device_credentials DROP COLUMN pending_nonce;
ALTER TABLE device_credentials DROP CONSTRAINT device_credentials_key_public;
ALTER TABLE device_credentials DROP COLUMN public_key;
ALTER TABLE device_credentials DROP COLUMN issued_at;
ALTER TABLE device_credentials DROP CONSTRAINT device_credentials_secret_by_kind;
ALTER TABLE device_credentials ALTER COLUMN nonce SET NOT NULL;
ALTER TABLE device_credentials ALTER COLUMN ciphertext SET NOT NULL;
ALTER TABLE device_credentials ALTER COLUMN auth_tag SET NOT NULL;
ALTER TABLE device_credentials DROP CONSTRAINT device_credentials_kind_check;
ALTER TABLE device_credentials ADD CONSTRAINT device_credentials_kind_check CHECK (kind IN ('password', 'private_key'));
