import type { DecisionRepo } from '../core/ports.js';
import type { Decision } from '../core/types.js';
import type { Queryable } from './pool.js';

function toDecision(r: Record<string, unknown>): Decision {
  return {
    id: r.id as string,
    requestId: r.request_id as string,
    approverId: r.approver_id as string,
    decision: r.decision as Decision['decision'],
    comment: (r.comment as string | null) ?? null,
    channel: r.channel as Decision['channel'],
    createdAt: r.created_at as Date,
  };
}

export function decisionsRepo(db: Queryable): DecisionRepo {
  return {
    async insert(d) {
      const { rows } = await db.query(
        `INSERT INTO decisions (request_id, approver_id, decision, comment, channel, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
        [d.requestId, d.approverId, d.decision, d.comment, d.channel, d.createdAt],
      );
      return toDecision(rows[0]);
    },
    async forRequest(requestId) {
      const { rows } = await db.query('SELECT * FROM decisions WHERE request_id = $1 ORDER BY created_at', [requestId]);
      return rows.map(toDecision);
    },
  };
}
