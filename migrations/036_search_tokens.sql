-- Up Migration
-- Search tokens built by the worker (server/core/search-tokens.ts): the indexer stores the tsvector it
-- built and PostgreSQL no longer runs its text parser on recordings (it was most of indexing's cost).
-- DROP EXPRESSION keeps every existing row's value: segments indexed before this migration keep the
-- to_tsvector('simple', text) they have, and the search repository also asks them the query as
-- websearch_to_tsquery read it (server/db/search-repo.ts), so they match as they did.
ALTER TABLE search_segments ALTER COLUMN tsv DROP EXPRESSION;
ALTER TABLE search_segments ALTER COLUMN tsv SET NOT NULL;
-- a screenful of text and its tsvector exceed the 2 kB at which a row's values are compressed: lz4
-- costs a fraction of the default pglz's CPU (measured: test/bench/search.ts); new rows only. Not every
-- PostgreSQL is built with lz4 (the embedded one `npm start` uses is not): there the default stays.
DO $$
BEGIN
  ALTER TABLE search_segments ALTER COLUMN text SET COMPRESSION lz4, ALTER COLUMN tsv SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this PostgreSQL has no lz4: search segments keep the default compression';
END
$$;

-- Down Migration
-- back to the generated column: every row's tsvector is computed again by PostgreSQL's parser
ALTER TABLE search_segments ALTER COLUMN text SET COMPRESSION default;
ALTER TABLE search_segments DROP COLUMN tsv;
ALTER TABLE search_segments ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED;
CREATE INDEX search_segments_tsv_idx ON search_segments USING GIN (tsv) WITH (gin_pending_list_limit = 16384);
