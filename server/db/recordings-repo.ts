import type { RecordingRepo } from '../core/ports.js';
import type { Recording } from '../core/types.js';
import type { Queryable } from './pool.js';

function toRecording(r: Record<string, unknown>): Recording {
  return {
    id: r.id as string,
    sessionId: r.session_id as string,
    path: r.path as string,
    sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
    sha256: (r.sha256 as string | null) ?? null,
    createdAt: r.created_at as Date,
    finalisedAt: (r.finalised_at as Date | null) ?? null,
  };
}

export function recordingsRepo(db: Queryable): RecordingRepo {
  return {
    async insert(sessionId, path) {
      const { rows } = await db.query('INSERT INTO recordings (session_id, path) VALUES ($1, $2) RETURNING *', [sessionId, path]);
      return toRecording(rows[0]);
    },
    async finalise(sessionId, r) {
      const { rows } = await db.query(
        `UPDATE recordings SET size_bytes = $2, duration_ms = $3, sha256 = $4, finalised_at = $5
          WHERE session_id = $1 AND finalised_at IS NULL RETURNING *`,
        [sessionId, r.sizeBytes, r.durationMs, r.sha256, r.at],
      );
      return rows[0] ? toRecording(rows[0]) : null;
    },
    async bySession(sessionId) {
      const { rows } = await db.query('SELECT * FROM recordings WHERE session_id = $1', [sessionId]);
      return rows[0] ? toRecording(rows[0]) : null;
    },
  };
}
