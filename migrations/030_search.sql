-- Up Migration
-- Full-text search across sessions (§8.7): what the device showed and what the technician typed,
-- line by line with its offset in the recording, and the paths of files moved. Filled by the worker's
-- indexer once a session has ended and its recording is finalised; sessions already recorded before
-- this migration are back-filled by the same indexer (they are all "not yet indexed").
-- 'simple' text search: no stemming and no stop words, so `rm`, `passwd` and paths match as typed.
CREATE TABLE search_segments (
  id bigserial PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES sessions (id),
  offset_seconds double precision NOT NULL CHECK (offset_seconds >= 0),
  kind text NOT NULL CHECK (kind IN ('output', 'input', 'transfer')),
  text text NOT NULL CHECK (length(text) BETWEEN 1 AND 4000),
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
);
CREATE INDEX search_segments_tsv_idx ON search_segments USING GIN (tsv);
CREATE INDEX search_segments_session_idx ON search_segments (session_id, offset_seconds);

-- one row per session the indexer has done (with or without a readable recording)
CREATE TABLE search_indexed (
  session_id uuid PRIMARY KEY REFERENCES sessions (id),
  indexed_at timestamptz NOT NULL,
  segments integer NOT NULL CHECK (segments >= 0),
  -- why the recording gave nothing (missing file), null when it was read
  problem text
);

-- Down Migration
DROP TABLE search_indexed;
DROP TABLE search_segments;
