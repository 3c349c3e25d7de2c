/** Live supervisors of sessions: one row per watch by an eligible approver, refreshed while it is open. */
import type { SupervisorRepo } from '../core/ports.js';
import type { Queryable } from './pool.js';

export function supervisorsRepo(db: Queryable): SupervisorRepo {
  return {
    async join(sessionId, userId, at) {
      const { rows } = await db.query(
        'INSERT INTO session_supervisors (session_id, user_id, joined_at, seen_at) VALUES ($1, $2, $3, $3) RETURNING id',
        [sessionId, userId, at],
      );
      return rows[0].id as string;
    },
    async seen(id, at) {
      await db.query('UPDATE session_supervisors SET seen_at = $2 WHERE id = $1 AND left_at IS NULL', [id, at]);
    },
    async leave(id, at) {
      const { rows } = await db.query(
        'UPDATE session_supervisors SET left_at = $2 WHERE id = $1 AND left_at IS NULL RETURNING session_id, user_id',
        [id, at],
      );
      return rows[0] ? { sessionId: rows[0].session_id as string, userId: rows[0].user_id as string } : null;
    },
    async active(sessionId, seenSince) {
      const { rows } = await db.query(
        `SELECT DISTINCT u.id, u.display_name, u.username FROM session_supervisors s JOIN users u ON u.id = s.user_id
          WHERE s.session_id = $1 AND s.left_at IS NULL AND s.seen_at >= $2 ORDER BY u.display_name`,
        [sessionId, seenSince],
      );
      return rows.map((r) => ({ userId: r.id as string, displayName: r.display_name as string, username: r.username as string }));
    },
  };
}
