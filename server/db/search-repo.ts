/**
 * The search index: segments in PostgreSQL full-text search (a GIN index over a generated tsvector,
 * the 'simple' configuration) and the indexer's bookkeeping of which sessions are done.
 */
import type { SearchRepo, Segment } from '../core/search.js';
import type { Queryable } from './pool.js';

export function searchRepo(db: Queryable): SearchRepo {
  return {
    async search(q) {
      const { rows } = await db.query(
        `WITH query AS (SELECT websearch_to_tsquery('simple', $1) AS q)
         SELECT g.session_id, d.name AS device_name, g.offset_seconds, g.kind,
                ts_headline('simple', g.text, query.q, 'StartSel=⟦, StopSel=⟧, MaxWords=35, MinWords=15, MaxFragments=1') AS snippet
           FROM search_segments g
           CROSS JOIN query
           JOIN sessions s ON s.id = g.session_id
           JOIN devices d ON d.id = s.device_id
           JOIN grants gr ON gr.id = s.grant_id
           JOIN users t ON t.id = s.technician_id
          WHERE g.tsv @@ query.q
            AND ($2::uuid IS NULL OR s.device_id = $2)
            AND ($3::uuid IS NULL OR COALESCE(gr.vendor_id, t.vendor_id) = $3)
            AND ($4::uuid IS NULL OR s.technician_id = $4)
            AND ($5::timestamptz IS NULL OR s.started_at >= $5)
            AND ($6::timestamptz IS NULL OR s.started_at < $6)
          ORDER BY ts_rank(g.tsv, query.q) DESC, s.started_at DESC, g.offset_seconds
          LIMIT $7`,
        [q.q, q.deviceId ?? null, q.vendorId ?? null, q.technicianId ?? null, q.from ?? null, q.to ?? null, q.limit],
      );
      return rows.map((r) => ({
        sessionId: r.session_id as string, deviceName: r.device_name as string, offsetSeconds: Number(r.offset_seconds),
        kind: r.kind, snippet: r.snippet as string,
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
 * (SKIP LOCKED: two workers index different sessions), oldest first.
 */
export async function lockSessionsToIndex(db: Queryable, limit: number): Promise<SessionToIndex[]> {
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
  return rows.map((r) => ({ sessionId: r.id as string, startedAt: r.started_at as Date, recordingPath: (r.path as string | null) ?? null }));
}

export async function saveSegments(db: Queryable, sessionId: string, segments: Segment[], at: Date, problem: string | null): Promise<void> {
  const BATCH = 1000;
  for (let i = 0; i < segments.length; i += BATCH) {
    const part = segments.slice(i, i + BATCH);
    await db.query(
      `INSERT INTO search_segments (session_id, offset_seconds, kind, text)
       SELECT $1, o, k, t FROM unnest($2::float8[], $3::text[], $4::text[]) AS u(o, k, t)`,
      [sessionId, part.map((s) => s.offsetSeconds), part.map((s) => s.kind), part.map((s) => s.text)],
    );
  }
  await db.query(
    'INSERT INTO search_indexed (session_id, indexed_at, segments, problem) VALUES ($1, $2, $3, $4) ON CONFLICT (session_id) DO NOTHING',
    [sessionId, at, segments.length, problem],
  );
}
