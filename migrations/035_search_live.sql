-- Up Migration
-- Search of sessions still running (§8.7, "within seconds"): the indexer follows a live session's
-- growing recording and keeps here how far it has read (a byte offset at a line end) and the lines it
-- has begun but not yet seen end (the walk's state, JSON text: it may hold characters jsonb refuses).
-- Segments and this row change in one transaction, so a pass is idempotent; when the recording is
-- finalised the indexer reads on from this offset, adds the rest and the transfers, writes the
-- search_indexed row and deletes this one: every line is indexed exactly once.
CREATE TABLE search_progress (
  session_id uuid PRIMARY KEY REFERENCES sessions (id),
  byte_offset bigint NOT NULL DEFAULT 0 CHECK (byte_offset >= 0),
  walker_state text,
  segments integer NOT NULL DEFAULT 0 CHECK (segments >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- Search answers from the newest matches (search-repo.ts): each segment carries its session's start,
-- so "the newest segments that match" is an index scan that stops early, even for a common word.
ALTER TABLE search_segments ADD COLUMN session_started_at timestamptz;
UPDATE search_segments g SET session_started_at = s.started_at FROM sessions s WHERE s.id = g.session_id;
ALTER TABLE search_segments ALTER COLUMN session_started_at SET NOT NULL;
CREATE INDEX search_segments_recent_idx ON search_segments (session_started_at DESC);
-- the GIN index takes new rows into its pending list and merges them in bulk: a larger list (16 MB,
-- default 4 MB) makes indexing a recording cheaper; VACUUM (autovacuum) merges it
ALTER INDEX search_segments_tsv_idx SET (gin_pending_list_limit = 16384);

-- the indexer looks for recordings still growing on every pass
CREATE INDEX recordings_unfinalised_idx ON recordings (session_id) WHERE finalised_at IS NULL;

-- Down Migration
DROP INDEX recordings_unfinalised_idx;
DROP TABLE search_progress;
ALTER INDEX search_segments_tsv_idx RESET (gin_pending_list_limit);
DROP INDEX search_segments_recent_idx;
ALTER TABLE search_segments DROP COLUMN session_started_at;
