-- Up Migration
-- Patch delivery (§8.3): files moved through the proxy's SFTP relay, each a transfer with its SHA-256.
-- Device policy: upload and download are allowed separately; allow_sftp becomes the alias of both
-- (the API still accepts and returns allowSftp), so its stored value moves into the two new columns.
ALTER TABLE devices
  ADD COLUMN allow_upload boolean NOT NULL DEFAULT false,
  ADD COLUMN allow_download boolean NOT NULL DEFAULT false,
  -- allowed directory prefixes on the device (absolute, normalised); empty = any
  ADD COLUMN transfer_paths text[] NOT NULL DEFAULT '{}' CHECK (array_position(transfer_paths, NULL) IS NULL),
  ADD COLUMN max_transfer_mib integer NOT NULL DEFAULT 4096 CHECK (max_transfer_mib BETWEEN 1 AND 1048576);
UPDATE devices SET allow_upload = allow_sftp, allow_download = allow_sftp;
ALTER TABLE devices DROP COLUMN allow_sftp;

-- what the vendor declared it would deliver: [{name, sha256, sizeBytes?}]
ALTER TABLE access_requests ADD COLUMN artifacts jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(artifacts) = 'array');

CREATE TABLE transfers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL REFERENCES sessions (id),
  grant_id uuid NOT NULL REFERENCES grants (id),
  device_id uuid NOT NULL REFERENCES devices (id),
  technician_id uuid NOT NULL REFERENCES users (id),
  direction text NOT NULL CHECK (direction IN ('upload', 'download')),
  path text NOT NULL CHECK (length(path) BETWEEN 1 AND 4096),
  bytes bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
  sha256 text CHECK (sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'),
  started_at timestamptz NOT NULL,
  ended_at timestamptz NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('complete', 'partial', 'refused', 'failed')),
  reason text,
  -- uploads: whether the SHA-256 matches an artifact declared on the request (null for downloads)
  declared boolean,
  -- the declared artifact's name, when it matched
  artifact_name text,
  CONSTRAINT transfers_declared CHECK ((direction = 'upload') = (declared IS NOT NULL))
);
CREATE INDEX transfers_session_idx ON transfers (session_id, started_at);
CREATE INDEX transfers_device_idx ON transfers (device_id, started_at DESC);
CREATE INDEX transfers_sha256_idx ON transfers (sha256) WHERE sha256 IS NOT NULL;

-- Down Migration
DROP TABLE transfers;
ALTER TABLE access_requests DROP COLUMN artifacts;
ALTER TABLE devices ADD COLUMN allow_sftp boolean NOT NULL DEFAULT false;
UPDATE devices SET allow_sftp = allow_upload AND allow_download;
ALTER TABLE devices DROP COLUMN allow_upload, DROP COLUMN allow_download, DROP COLUMN transfer_paths, DROP COLUMN max_transfer_mib;
