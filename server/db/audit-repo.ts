/**
 * The audit table. Appends are serialised by a transaction-scoped advisory lock taken before
 * reading the chain head, so two writers can never link to the same predecessor.
 *
 * Inside a transaction (`transactionAuditRepo`) appends are held until the transaction commits, and
 * then linked and written by the database's `audit_append` (migration 037) in the same message as the
 * COMMIT: the lock — which every audited change in every process waits for — is held for that one
 * statement and the commit, never while a client process is busy with other work (a proxy relaying
 * gigabytes took a second to answer each step of a client-side append, and every revocation waited).
 * A read of the log in the same transaction writes what is held first, so the transaction sees its
 * own events as before.
 */
import { auditHashParts } from '../core/audit-chain.js';
import type { AuditRepo } from '../core/ports.js';
import type { AuditEvent, AuditEventInput } from '../core/types.js';
import type { Queryable } from './pool.js';

const AUDIT_LOCK = 0x706f7274; // 'port' (also in migrations/037_audit_append_function.sql)

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

async function lockedHead(db: Queryable): Promise<{ seq: number; hash: string } | null> {
  await db.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
  const { rows } = await db.query('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
  return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash as string } : null;
}

type Held = { input: AuditEventInput; at: Date };

/** The argument of audit_append: each event with its canonical text split around prev_hash and seq. */
function appendArgument(events: Held[]): string {
  return JSON.stringify(events.map(({ input, at }) => {
    const { head, tail, details } = auditHashParts(input, at);
    return {
      at: at.toISOString(), actorType: input.actorType, actorId: input.actorId, action: input.action,
      subjectType: input.subjectType, subjectId: input.subjectId, details, head, tail,
    };
  }));
}

/** Links `events` after the chain's head and inserts them (one statement); must run inside a transaction. */
async function appendAll(db: Queryable, events: Held[]): Promise<void> {
  if (events.length) await db.query('SELECT audit_append($1::jsonb)', [appendArgument(events)]);
}

export function auditRepo(db: Queryable): AuditRepo {
  return {
    async append(input, at) {
      // must run inside a transaction: the lock is held until commit
      await appendAll(db, [{ input, at }]);
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
      if (opts?.lock) return lockedHead(db);
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

/**
 * The audit repository of one transaction: appends held until `commit()`, which the store calls instead
 * of COMMIT. The events held are copied when appended (the caller may change its objects afterwards).
 */
export function transactionAuditRepo(db: Queryable & { escapeLiteral(s: string): string }): AuditRepo & { commit(): Promise<void> } {
  const direct = auditRepo(db);
  let held: Held[] = [];
  async function flush(): Promise<void> {
    const events = held;
    held = [];
    await appendAll(db, events);
  }
  return {
    async append(input, at) {
      held.push({ input: { ...input, details: JSON.parse(JSON.stringify(input.details ?? {})) as Record<string, unknown> }, at });
    },
    async list(q) {
      await flush();
      return direct.list(q);
    },
    async head(opts) {
      await flush();
      return direct.head(opts);
    },
    async forEach(fn, batchSize) {
      await flush();
      return direct.forEach(fn, batchSize);
    },
    async commit() {
      const events = held;
      held = [];
      // one message (simple query protocol, so the argument is a quoted literal): the server links,
      // inserts and commits without waiting for this process in between
      await db.query(events.length ? `SELECT audit_append(${db.escapeLiteral(appendArgument(events))}::jsonb); COMMIT` : 'COMMIT');
    },
  };
}
