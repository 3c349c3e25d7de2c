/**
 * The audit table. Appends are serialised by a transaction-scoped advisory lock taken before
 * reading the chain head, so two writers can never link to the same predecessor.
 */
import { nextAuditEvent } from '../core/audit-chain.js';
import type { AuditRepo } from '../core/ports.js';
import type { AuditEvent } from '../core/types.js';
import type { Queryable } from './pool.js';

const AUDIT_LOCK = 0x706f7274; // 'port'

function toEvent(r: Record<string, unknown>): AuditEvent {
  return {
    seq: Number(r.seq),
    at: r.at as Date,
    actorType: r.actor_type as AuditEvent['actorType'],
    actorId: (r.actor_id as string | null) ?? null,
    action: r.action as string,
    subjectType: (r.subject_type as string | null) ?? null,
    subjectId: (r.subject_id as string | null) ?? null,
    details: r.details as Record<string, unknown>,
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}

export function auditRepo(db: Queryable): AuditRepo {
  return {
    async append(input, at) {
      // must run inside a transaction: the lock is held until commit
      await db.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
      const { rows } = await db.query('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
      const prev = rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash as string } : null;
      const e = nextAuditEvent(prev, input, at);
      await db.query(
        `INSERT INTO audit_events (seq, at, actor_type, actor_id, action, subject_type, subject_id, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [e.seq, e.at, e.actorType, e.actorId, e.action, e.subjectType, e.subjectId, JSON.stringify(e.details), e.prevHash, e.hash],
      );
      return e;
    },
    async list(q) {
      const { rows } = await db.query(
        `SELECT * FROM audit_events
          WHERE seq > $1 AND ($2::text IS NULL OR action = $2 OR starts_with(action, $2 || '.'))
            AND ($3::text IS NULL OR subject_type = $3) AND ($4::text IS NULL OR subject_id = $4)
            AND ($5::text IS NULL OR actor_id = $5)
          ORDER BY seq LIMIT $6`,
        [q.afterSeq ?? 0, q.action ?? null, q.subjectType ?? null, q.subjectId ?? null, q.actorId ?? null, q.limit],
      );
      return rows.map(toEvent);
    },
    async head(opts) {
      // the same lock as append: held until the transaction ends, so the head read is the one the next append links to
      if (opts?.lock) await db.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
      const { rows } = await db.query('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
      return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash as string } : null;
    },
    async forEach(fn, batchSize = 1000) {
      let after = 0;
      for (;;) {
        const { rows } = await db.query('SELECT * FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2', [after, batchSize]);
        for (const r of rows) fn(toEvent(r));
        if (rows.length < batchSize) return;
        after = Number(rows[rows.length - 1].seq);
      }
    },
  };
}
