/**
 * The search index: segments in PostgreSQL full-text search (a GIN index over the tsvector the worker
 * built with server/core/search-tokens.ts — migration 036; rows indexed before it keep the one
 * to_tsvector('simple') gave them — each segment carrying its session's start for "newest first") and the
 * indexer's bookkeeping: which sessions are done, and how far it
 * has read the recordings of sessions still running.
 */
import type { SearchQuery, SearchRepo, Segment } from '../core/search.js';
import { parseQuery, snippet, tsvectorEntries } from '../core/search-tokens.js';
import { textArraySend, TsvectorArrayWriter } from './pg-binary.js';
import type { Queryable } from './pool.js';

/**
 * How many of the newest matching segments are ranked. A common word matches a large part of the
 * index; ranking every match would read all of them. The newest CANDIDATES matches (or as many as the
 * page asked for, when more) are ranked instead — an index scan on session_started_at that stops early,
 * or the GIN index for a rare word: the best of the most recent, which is what an auditor asks about.
 */
const CANDIDATES = 1000;

/**
 * At most this many matches are read first (the GIN index, then the filters); a query whose words match
 * more is answered from the newest segments (the filters and the newest-first scan, stopping at
 * CANDIDATES matches). Left to itself, the planner took a rare word with a vendor and a time range to
 * the segments of every one of the vendor's sessions, one session at a time (5 s at 10,000 sessions).
 */
const FEW_MATCHES = 20_000;

// Rows indexed before migration 036 hold to_tsvector('simple', text): the query as
// websearch_to_tsquery read it then is OR-ed in (when it differs), so they match as they did.
const QUERY = `(CASE WHEN numnode(websearch_to_tsquery('simple', $8)) = 0 OR websearch_to_tsquery('simple', $8) = $1::tsquery
     THEN $1::tsquery ELSE $1::tsquery || websearch_to_tsquery('simple', $8) END)`;

/** How many segments PostgreSQL expects `where` to select (its statistics; no rows read). */
async function estimatedRows(db: Queryable, where: string, values: unknown[]): Promise<number> {
  const { rows } = await db.query(`EXPLAIN (FORMAT JSON) SELECT 1 FROM search_segments WHERE ${where}`, values);
  return Number((rows[0]['QUERY PLAN'] as { Plan: { 'Plan Rows': number } }[])[0]!.Plan['Plan Rows']);
}

/** How many segments PostgreSQL expects the query's words to match. */
export const estimatedMatches = (db: Queryable, q: SearchQuery, tsquery: string): Promise<number> =>
  estimatedRows(db, `tsv @@ ${QUERY.replaceAll('$8', '$2')}`, [tsquery, q.q]);

/** What PostgreSQL expects of a query: segments its words match, segments its filters select, all segments. */
export interface SearchEstimates {
  matches: number;
  filtered: number;
  total: number;
}

export async function searchEstimates(db: Queryable, q: SearchQuery, tsquery: string): Promise<SearchEstimates> {
  const matches = await estimatedMatches(db, q, tsquery);
  const total = await estimatedRows(db, 'true', []);
  const filters = [q.deviceId, q.vendorId, q.technicianId, q.from, q.to].map((v) => v ?? null);
  const filtered = filters.every((v) => v === null) ? total : await estimatedRows(db,
    `($1::uuid IS NULL OR device_id = $1) AND ($2::uuid IS NULL OR vendor_id = $2) AND ($3::uuid IS NULL OR technician_id = $3)
     AND ($4::timestamptz IS NULL OR session_started_at >= $4) AND ($5::timestamptz IS NULL OR session_started_at < $5)`, filters);
  return { matches, filtered, total };
}

/**
 * Which statement answers a query (searchStatement's `from`): the matches first when there are few of
 * them (FEW_MATCHES) and no more than the newest-first scan would read — the segments the filters
 * select, or, reading newest first, about `candidates` over the share of segments that match. A
 * technician's segments for two common words were otherwise found among every segment matching them
 * (20–176 ms at 300 sessions for `occlusion alarm`, against 4–6 ms over the technician's 1,341).
 */
export function readingFor(e: SearchEstimates, candidates = CANDIDATES): 'matches' | 'newest' {
  const newestReads = Math.min(e.filtered, (candidates * e.total) / Math.max(1, e.matches));
  return e.matches <= FEW_MATCHES && e.matches <= newestReads ? 'matches' : 'newest';
}

/**
 * The query behind search(): `tsquery` is parseQuery's. Everything in it is a parameter or a constant
 * expression of parameters, so PostgreSQL plans each execution with the words asked (an unnamed
 * statement gets a custom plan). `from: 'matches'` (few matches, see readingFor) reads the matching
 * segments first — a fence PostgreSQL cannot push the session filters through; `'newest'` leaves the
 * plan to it (the newest-first scan that stops early, for a common word — over one technician's,
 * device's or vendor's segments when the query names one, migration 038).
 */
export function searchStatement(q: SearchQuery, tsquery: string, from: 'matches' | 'newest' = 'newest'): { text: string; values: unknown[] } {
  // the words and the time range: in the fenced subquery, or beside the session filters
  const matching = `tsv @@ ${QUERY} AND ($5::timestamptz IS NULL OR session_started_at >= $5) AND ($6::timestamptz IS NULL OR session_started_at < $6)`;
  // the session's device, vendor and technician, carried by each segment (migration 038)
  const filters = `($2::uuid IS NULL OR device_id = $2) AND ($3::uuid IS NULL OR vendor_id = $3) AND ($4::uuid IS NULL OR technician_id = $4)`;
  // 'newest' reads in order and stops early; `IS TRUE` keeps the words from being an index condition,
  // so PostgreSQL cannot turn it into a bitmap of every match ANDed with the filter's rows, read whole
  // and sorted (it did for two common words and one technician at 10,000 sessions: 190 ms instead of 10)
  const [segments, where] = from === 'matches'
    ? [`(SELECT id, session_id, offset_seconds, kind, session_started_at, tsv, device_id, vendor_id, technician_id FROM search_segments WHERE ${matching} OFFSET 0) g`, filters]
    : ['search_segments', `${matching.replace(`tsv @@ ${QUERY}`, `(tsv @@ ${QUERY}) IS TRUE`)} AND ${filters}`];
  return {
    text: `WITH recent AS (
           SELECT id, session_id, offset_seconds, kind, session_started_at, ts_rank(tsv, ${QUERY}) AS rank
             FROM ${segments}
            WHERE ${where}
            ORDER BY session_started_at DESC
            LIMIT GREATEST(${CANDIDATES}, $7::int))
         SELECT r.session_id, d.name AS device_name, r.offset_seconds, r.kind, t.text
           FROM (SELECT * FROM recent ORDER BY rank DESC, session_started_at DESC, offset_seconds LIMIT $7) r
           JOIN search_segments t ON t.id = r.id -- the text of the page's hits only
           JOIN devices d ON d.id = t.device_id
          ORDER BY r.rank DESC, r.session_started_at DESC, r.offset_seconds`,
    values: [tsquery, q.deviceId ?? null, q.vendorId ?? null, q.technicianId ?? null, q.from ?? null, q.to ?? null, q.limit, q.q],
  };
}

export function searchRepo(db: Queryable): SearchRepo {
  return {
    async search(q) {
      const parsed = parseQuery(q.q);
      if (!parsed) return [];
      const from = readingFor(await searchEstimates(db, q, parsed.tsquery), Math.max(CANDIDATES, q.limit));
      const { rows } = await db.query(searchStatement(q, parsed.tsquery, from));
      return rows.map((r) => ({
        sessionId: r.session_id as string, deviceName: r.device_name as string, offsetSeconds: Number(r.offset_seconds),
        kind: r.kind, snippet: snippet(r.text as string, parsed.terms),
      }));
    },
  };
}

export interface SessionToIndex {
  sessionId: string;
  startedAt: Date;
  /** the finalised recording's path; null when the session has none */
  recordingPath: string | null;
}

/**
 * Ended sessions not indexed yet whose recording (if any) is finalised, locked for this transaction
 * (SKIP LOCKED: two workers index different sessions) and claimed, oldest first.
 *
 * The claim — this transaction's search_indexed row for each, inserted ON CONFLICT DO NOTHING — is
 * what makes a session indexed once: the locking read's "not indexed yet" is judged on the snapshot
 * its statement started with, so a session another lane indexed and committed meanwhile (its row
 * lock already released) was returned again, and its segments written twice. A unique-key insert
 * sees every committed row (and waits for an uncommitted one), whatever the snapshot.
 */
export async function lockSessionsToIndex(db: Queryable, limit: number, at: Date): Promise<SessionToIndex[]> {
  const { rows } = await db.query(
    `SELECT s.id, s.started_at, r.path
       FROM sessions s
       LEFT JOIN recordings r ON r.session_id = s.id
      WHERE s.ended_at IS NOT NULL
        AND (r.id IS NULL OR r.finalised_at IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM search_indexed i WHERE i.session_id = s.id)
      ORDER BY s.ended_at
      LIMIT $1
      FOR UPDATE OF s SKIP LOCKED`,
    [limit],
  );
  if (!rows.length) return [];
  const claimed = await db.query(
    `INSERT INTO search_indexed (session_id, indexed_at, segments, problem)
     SELECT unnest($1::uuid[]), $2, 0, NULL ON CONFLICT (session_id) DO NOTHING RETURNING session_id`,
    [rows.map((r) => r.id as string), at],
  );
  const ours = new Set(claimed.rows.map((r) => r.session_id as string));
  return rows.filter((r) => ours.has(r.id as string))
    .map((r) => ({ sessionId: r.id as string, startedAt: r.started_at as Date, recordingPath: (r.path as string | null) ?? null }));
}

/** How far the indexer has read a recording that was (or is) growing (migration 035). */
export interface ReadProgress {
  byteOffset: number;
  /** the walk's state (server/core/typed-lines.ts WalkerState) as JSON; null before the first read */
  walkerState: string | null;
  /** segments written so far */
  segments: number;
}

const toProgress = (r: Record<string, unknown>): ReadProgress => ({
  byteOffset: Number(r.byte_offset), walkerState: (r.walker_state as string | null) ?? null, segments: Number(r.segments),
});

/** The session's progress, locked (waits for a live pass holding it); null when none was made. */
export async function lockProgress(db: Queryable, sessionId: string): Promise<ReadProgress | null> {
  const { rows } = await db.query('SELECT * FROM search_progress WHERE session_id = $1 FOR UPDATE', [sessionId]);
  return rows[0] ? toProgress(rows[0]) : null;
}

/** Starts following every recording not finalised yet (sessions running now), idempotently. */
export async function followLiveRecordings(db: Queryable): Promise<void> {
  await db.query(
    `INSERT INTO search_progress (session_id)
     SELECT r.session_id FROM recordings r
      WHERE r.finalised_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM search_indexed i WHERE i.session_id = r.session_id)
     ON CONFLICT (session_id) DO NOTHING`,
  );
}

export interface LiveRecording extends ReadProgress {
  sessionId: string;
  startedAt: Date;
  path: string;
}

/** Recordings still growing, least recently read first, locked for this transaction (SKIP LOCKED). */
export async function lockLiveRecordings(db: Queryable, limit: number): Promise<LiveRecording[]> {
  const { rows } = await db.query(
    `SELECT p.*, r.path, s.started_at
       FROM search_progress p
       JOIN recordings r ON r.session_id = p.session_id
       JOIN sessions s ON s.id = p.session_id
      WHERE r.finalised_at IS NULL
      ORDER BY p.updated_at
      LIMIT $1
      FOR UPDATE OF p SKIP LOCKED`,
    [limit],
  );
  return rows.map((r) => ({ ...toProgress(r), sessionId: r.session_id as string, startedAt: r.started_at as Date, path: r.path as string }));
}

export async function saveProgress(db: Queryable, sessionId: string, p: ReadProgress, at: Date): Promise<void> {
  await db.query(
    'UPDATE search_progress SET byte_offset = $2, walker_state = $3, segments = $4, updated_at = $5 WHERE session_id = $1',
    [sessionId, p.byteOffset, p.walkerState, p.segments, at],
  );
}

/**
 * The columns a segment's filters read (migration 038), taken from its session ($1) as it was: the
 * grant's vendor, or the technician's when the grant has none.
 */
const SESSION_FILTERS = {
  columns: 'technician_id, device_id, vendor_id',
  values: 'f.technician_id, f.device_id, f.vendor_id',
  join: `CROSS JOIN (SELECT s.technician_id, s.device_id, COALESCE(gr.vendor_id, t.vendor_id) AS vendor_id
                       FROM sessions s JOIN grants gr ON gr.id = s.grant_id JOIN users t ON t.id = s.technician_id
                      WHERE s.id = $1) f`,
};

/** a multi-row INSERT of this many segments at a time */
const INSERT_BATCH = 2000;

/**
 * Adds segments with the tsvector server/core/search-tokens.ts builds, and returns how many were added:
 * a segment without a single indexed word (a `cat` of a base64 file, a screen of hex dump) is left
 * out, since no query can find it (a query that asks for no word is refused: parseQuery) — a 512 MiB
 * base64 download was 268,000 rows holding the whole text, in the table and its seven indexes.
 * `tsvector: 'database'` has PostgreSQL compute it with to_tsvector('simple', text) instead, as before
 * migration 036, and keeps every segment: only for comparing the two (test/bench/search.ts); its rows
 * are the kind the search's compatibility arm reads.
 */
export async function insertSegments(
  db: Queryable, session: { sessionId: string; startedAt: Date }, segments: Segment[], tsvector: 'worker' | 'database' = 'worker',
  /** asked after each segment's tsvector: a promise to wait for lets the event loop run (server/jobs/pacing.ts) */
  pace?: () => Promise<void> | undefined,
): Promise<number> {
  let added = 0;
  for (let i = 0; i < segments.length; i += INSERT_BATCH) {
    let part = segments.slice(i, i + INSERT_BATCH);
    const vectors = new TsvectorArrayWriter();
    if (tsvector === 'worker') {
      const kept: Segment[] = [];
      for (const s of part) {
        const entries = tsvectorEntries(s.text);
        if (entries.lexemes.length > 0) (kept.push(s), vectors.add(entries));
        const wait = pace?.();
        if (wait) await wait;
      }
      part = kept;
      if (part.length === 0) continue;
    }
    added += part.length;
    // the texts and tsvectors in binary form (pg-binary.ts): PostgreSQL copies them instead of parsing literals
    const base = [session.sessionId, session.startedAt, part.map((s) => s.offsetSeconds), part.map((s) => s.kind), textArraySend(part.map((s) => s.text))];
    if (tsvector === 'database') {
      await db.query(
        `INSERT INTO search_segments (session_id, session_started_at, offset_seconds, kind, text, tsv, ${SESSION_FILTERS.columns})
         SELECT $1, $2, o, k, t, to_tsvector('simple', t), ${SESSION_FILTERS.values} FROM unnest($3::float8[], $4::text[], $5::text[]) AS u(o, k, t)
           ${SESSION_FILTERS.join}`,
        base,
      );
      continue;
    }
    await db.query(
      `INSERT INTO search_segments (session_id, session_started_at, offset_seconds, kind, text, tsv, ${SESSION_FILTERS.columns})
       SELECT $1, $2, o, k, t, v, ${SESSION_FILTERS.values} FROM unnest($3::float8[], $4::text[], $5::text[], $6::tsvector[]) AS u(o, k, t, v)
         ${SESSION_FILTERS.join}`,
      [...base, vectors.finish()],
    );
  }
  return added;
}

/** The session (claimed by lockSessionsToIndex) is fully indexed: its row says how, and its read progress is no longer needed. */
export async function markIndexed(db: Queryable, sessionId: string, at: Date, segments: number, problem: string | null): Promise<void> {
  await db.query('UPDATE search_indexed SET indexed_at = $2, segments = $3, problem = $4 WHERE session_id = $1', [sessionId, at, segments, problem]);
  await db.query('DELETE FROM search_progress WHERE session_id = $1', [sessionId]);
}
