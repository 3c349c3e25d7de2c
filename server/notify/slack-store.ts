/**
 * PostgreSQL access for the Slack integration: posted messages (for chat.update), single-use approval
 * link rows, and the approvers a request's DMs go to. Bound to the pool, or to one transaction's
 * client when a link is consumed together with the decision it records.
 */
import type { Queryable } from '../db/pool.js';
import type { LinkAction, LinkClaims } from './slack-links.js';

export interface SlackMessage {
  id: string;
  requestId: string;
  kind: 'channel' | 'dm';
  approverId: string | null;
  channel: string;
  ts: string;
}

export interface LinkRow {
  jti: string;
  requestId: string;
  approverId: string;
  action: LinkAction;
  expiresAt: Date;
  usedAt: Date | null;
}

export interface SlackApprover {
  id: string;
  displayName: string;
  slackUserId: string;
}

type Row = Record<string, unknown>;

const toMessage = (r: Row): SlackMessage => ({
  id: r.id as string,
  requestId: r.request_id as string,
  kind: r.kind as SlackMessage['kind'],
  approverId: (r.approver_id as string | null) ?? null,
  channel: r.channel as string,
  ts: r.ts as string,
});

export function slackStore(db: Queryable) {
  return {
    async insertLink(c: LinkClaims, createdAt: Date): Promise<void> {
      await db.query(
        `INSERT INTO approval_links (jti, request_id, approver_id, action, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [c.jti, c.requestId, c.approverId, c.action, createdAt, c.expiresAt],
      );
    },

    async linkByJti(jti: string): Promise<LinkRow | null> {
      const { rows } = await db.query('SELECT * FROM approval_links WHERE jti = $1', [jti]);
      const r = rows[0] as Row | undefined;
      if (!r) return null;
      return {
        jti: r.jti as string, requestId: r.request_id as string, approverId: r.approver_id as string,
        action: r.action as LinkAction, expiresAt: r.expires_at as Date, usedAt: (r.used_at as Date | null) ?? null,
      };
    },

    /** Conditional write: marks the link used only if it is exactly this link, unused and unexpired. */
    async consumeLink(c: LinkClaims, now: Date): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE approval_links SET used_at = $5
          WHERE jti = $1 AND request_id = $2 AND approver_id = $3 AND action = $4
            AND used_at IS NULL AND expires_at > $5`,
        [c.jti, c.requestId, c.approverId, c.action, now],
      );
      return rowCount === 1;
    },

    /** Records a posted message; false when this target already has one (a retried post). */
    async insertMessage(m: Omit<SlackMessage, 'id'>, at: Date): Promise<boolean> {
      const { rowCount } = await db.query(
        `INSERT INTO slack_messages (request_id, kind, approver_id, channel, ts, posted_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [m.requestId, m.kind, m.approverId, m.channel, m.ts, at],
      );
      return rowCount === 1;
    },

    async messagesFor(requestId: string): Promise<SlackMessage[]> {
      const { rows } = await db.query('SELECT * FROM slack_messages WHERE request_id = $1 ORDER BY posted_at, id', [requestId]);
      return rows.map(toMessage);
    },

    async hasMessage(requestId: string, approverId: string | null): Promise<boolean> {
      const { rowCount } = await db.query(
        `SELECT 1 FROM slack_messages WHERE request_id = $1
            AND (($2::uuid IS NULL AND kind = 'channel') OR approver_id = $2)`,
        [requestId, approverId],
      );
      return (rowCount ?? 0) > 0;
    },

    async markUpdated(id: string, at: Date): Promise<void> {
      await db.query('UPDATE slack_messages SET updated_at = $2 WHERE id = $1', [id, at]);
    },

    /**
     * Who gets a DM about a request: enabled approvers of the device's approver department with a
     * Slack user id — never the requesting technician (nobody approves their own request).
     */
    async slackApprovers(requestId: string): Promise<SlackApprover[]> {
      const { rows } = await db.query(
        `SELECT u.id, u.display_name, u.slack_user_id
           FROM access_requests r
           JOIN devices d ON d.id = r.device_id
           JOIN users u ON u.department = d.approver_department
          WHERE r.id = $1 AND 'approver' = ANY (u.roles) AND u.disabled_at IS NULL
            AND u.slack_user_id IS NOT NULL AND u.id <> r.technician_id
          ORDER BY u.username`,
        [requestId],
      );
      return rows.map((r: Row) => ({ id: r.id as string, displayName: r.display_name as string, slackUserId: r.slack_user_id as string }));
    },
  };
}

export type SlackStore = ReturnType<typeof slackStore>;
