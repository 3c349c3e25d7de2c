-- Up Migration
-- Vaulted device credentials: AES-256-GCM ciphertext only. The vault key never enters the database.
CREATE TABLE device_credentials (
  device_id uuid PRIMARY KEY REFERENCES devices (id),
  username text NOT NULL CHECK (username ~ '^[A-Za-z0-9._-]{1,64}$'),
  kind text NOT NULL CHECK (kind IN ('password', 'private_key')),
  nonce bytea NOT NULL CHECK (length(nonce) = 12),
  ciphertext bytea NOT NULL,
  auth_tag bytea NOT NULL CHECK (length(auth_tag) = 16),
  created_at timestamptz NOT NULL DEFAULT now(),
  rotated_at timestamptz
);

-- Down Migration
DROP TABLE device_credentials;
