/** Slack messages posted about access requests (migration 016), kept so they can be updated with the outcome. */
import type { SlackMessage, SlackMessageRepo } from '../core/slack-ports.js';
import type { Queryable } from './pool.js';

type Row = Record<string, unknown>;

const toMessage = (r: Row): SlackMessage => ({
  id: r.id as string,
  requestId: r.request_id as string,
  kind: r.kind as SlackMessage['kind'],
  approverId: (r.approver_id as string | null) ?? null,
  channel: r.channel as string,
  ts: r.ts as string,
});

export function slackMessagesRepo(db: Queryable): SlackMessageRepo {
  return {
    async insert(m, at) {
      const { rowCount } = await db.query(
        `INSERT INTO slack_messages (request_id, kind, approver_id, channel, ts, posted_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [m.requestId, m.kind, m.approverId, m.channel, m.ts, at],
      );
      return rowCount === 1;
    },
    async forRequest(requestId) {
      const { rows } = await db.query('SELECT * FROM slack_messages WHERE request_id = $1 ORDER BY posted_at, id', [requestId]);
      return rows.map((r) => toMessage(r as Row));
    },
    async has(requestId, approverId) {
      const { rowCount } = await db.query(
        `SELECT 1 FROM slack_messages WHERE request_id = $1
            AND (($2::uuid IS NULL AND kind = 'channel') OR approver_id = $2)`,
        [requestId, approverId],
      );
      return (rowCount ?? 0) > 0;
    },
    async markUpdated(id, at) {
      await db.query('UPDATE slack_messages SET updated_at = $2 WHERE id = $1', [id, at]);
    },
  };
}
