/**
 * The audit table. Appends are serialised by a transaction-scoped advisory lock taken before
 * reading the chain head, so two writers can never link to the same predecessor.
 *
 * Inside a transaction (`transactionAuditRepo`) appends are held until the transaction is about to
 * commit and then linked and written in one statement: the lock — which every audited change in
 * every process waits for — is held for the head read, that insert and the commit, not for the
 * rest of the transaction's work. A read of the log in the same transaction writes what is held first,
 * so the transaction sees its own events as before.
 */
import { nextAuditEvent } from '../core/audit-chain.js';
import type { AuditRepo } from '../core/ports.js';
import type { AuditEvent, AuditEventInput } from '../core/types.js';
import type { Queryable } from './pool.js';

const AUDIT_LOCK = 0x706f7274; // 'port'
const COLUMNS = 10;

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

/** Links `inputs` after the chain's head and inserts them in one statement; must run inside a transaction. */
async function appendAll(db: Queryable, inputs: { input: AuditEventInput; at: Date }[]): Promise<AuditEvent[]> {
  let prev = await lockedHead(db);
  const events: AuditEvent[] = [];
  const values: unknown[] = [];
  const rows: string[] = [];
  for (const { input, at } of inputs) {
    const e = nextAuditEvent(prev, input, at);
    events.push(e);
    prev = e;
    const n = values.length;
    rows.push(`(${Array.from({ length: COLUMNS }, (_, i) => `$${n + i + 1}`).join(', ')})`);
    values.push(e.seq, e.at, e.actorType, e.actorId, e.action, e.subjectType, e.subjectId, JSON.stringify(e.details), e.prevHash, e.hash);
  }
  await db.query(
    `INSERT INTO audit_events (seq, at, actor_type, actor_id, action, subject_type, subject_id, details, prev_hash, hash)
     VALUES ${rows.join(', ')}`,
    values,
  );
  return events;
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

/** The audit repository of one transaction: appends held until `flush()`, which the store calls just before COMMIT. */
export function transactionAuditRepo(db: Queryable): AuditRepo & { flush(): Promise<void> } {
  const direct = auditRepo(db);
  let held: { input: AuditEventInput; at: Date }[] = [];
  // at most a few hundred events per statement (PostgreSQL allows 65,535 parameters)
  const MAX_ROWS = 500;
  async function flush(): Promise<void> {
    while (held.length) {
      const batch = held.slice(0, MAX_ROWS);
      held = held.slice(MAX_ROWS);
      await appendAll(db, batch);
    }
  }
  return {
    async append(input, at) {
      // copied now: the caller may change its objects after this returns, and the event is what it said then
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
    flush,
  };
}
