-- Up Migration
CREATE TABLE recordings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL UNIQUE REFERENCES sessions (id),
  path text NOT NULL,
  size_bytes bigint CHECK (size_bytes IS NULL OR size_bytes >= 0),
  duration_ms bigint CHECK (duration_ms IS NULL OR duration_ms >= 0),
  sha256 text CHECK (sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  finalised_at timestamptz,
  CONSTRAINT recordings_finalised CHECK ((finalised_at IS NULL) = (sha256 IS NULL))
);

-- Down Migration
DROP TABLE recordings;
