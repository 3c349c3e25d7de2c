/** Single-use Slack approval links (migration 017): the signed token carries the jti, this row makes it single use. */
import type { ApprovalLink, ApprovalLinkRepo, LinkAction } from '../core/slack-ports.js';
import type { Queryable } from './pool.js';

type Row = Record<string, unknown>;

const toLink = (r: Row): ApprovalLink => ({
  jti: r.jti as string,
  requestId: r.request_id as string,
  approverId: r.approver_id as string,
  action: r.action as LinkAction,
  createdAt: r.created_at as Date,
  expiresAt: r.expires_at as Date,
  usedAt: (r.used_at as Date | null) ?? null,
});

export function approvalLinksRepo(db: Queryable): ApprovalLinkRepo {
  return {
    async insert(l, createdAt) {
      await db.query(
        `INSERT INTO approval_links (jti, request_id, approver_id, action, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [l.jti, l.requestId, l.approverId, l.action, createdAt, l.expiresAt],
      );
    },
    async byJti(jti) {
      const { rows } = await db.query('SELECT * FROM approval_links WHERE jti = $1', [jti]);
      return rows[0] ? toLink(rows[0] as Row) : null;
    },
    async consume(l, now) {
      const { rowCount } = await db.query(
        `UPDATE approval_links SET used_at = $5
          WHERE jti = $1 AND request_id = $2 AND approver_id = $3 AND action = $4
            AND used_at IS NULL AND expires_at > $5`,
        [l.jti, l.requestId, l.approverId, l.action, now],
      );
      return rowCount === 1;
    },
  };
}
