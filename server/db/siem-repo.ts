/**
 * SIEM delivery storage: the per-sink cursor rows (siem_cursors) and the audit events after a cursor,
 * with the names a SIEM needs joined in (actor, technician or user, the device's identity).
 */
import type { SiemCursor, SiemSinksRepo } from '../core/siem-sinks.js';
import type { SiemEvent } from '../siem/siem-event.js';
import { auditEventsWithContext } from './audit-context.js';
import type { Queryable } from './pool.js';

export type { SiemCursor } from '../core/siem-sinks.js';

function toCursor(r: Record<string, unknown>): SiemCursor {
  return {
    sink: r.sink as string,
    lastSeq: Number(r.last_seq),
    deliveredAt: (r.delivered_at as Date | null) ?? null,
    failures: Number(r.failures),
    lastError: (r.last_error as string | null) ?? null,
    lastErrorAt: (r.last_error_at as Date | null) ?? null,
  };
}

export async function ensureCursor(db: Queryable, sink: string): Promise<void> {
  await db.query('INSERT INTO siem_cursors (sink) VALUES ($1) ON CONFLICT (sink) DO NOTHING', [sink]);
}

/** The cursor row locked for this transaction, or null when another worker holds it. */
export async function lockCursor(db: Queryable, sink: string): Promise<number | null> {
  const { rows } = await db.query('SELECT last_seq FROM siem_cursors WHERE sink = $1 FOR UPDATE SKIP LOCKED', [sink]);
  return rows[0] ? Number(rows[0].last_seq) : null;
}

export async function advanceCursor(db: Queryable, sink: string, lastSeq: number, at: Date): Promise<void> {
  await db.query('UPDATE siem_cursors SET last_seq = $2, delivered_at = $3 WHERE sink = $1', [sink, lastSeq, at]);
}

export async function recordCursorFailure(db: Queryable, sink: string, error: string, at: Date): Promise<void> {
  await db.query('UPDATE siem_cursors SET failures = failures + 1, last_error = $2, last_error_at = $3 WHERE sink = $1', [sink, error.slice(0, 1000), at]);
}

export async function listCursors(db: Queryable): Promise<SiemCursor[]> {
  const { rows } = await db.query('SELECT * FROM siem_cursors ORDER BY sink');
  return rows.map(toCursor);
}

export async function auditHeadSeq(db: Queryable): Promise<number> {
  const { rows } = await db.query('SELECT COALESCE(max(seq), 0) AS seq FROM audit_events');
  return Number(rows[0].seq);
}

/** Up to `limit` events after `afterSeq`, in seq order, with their context. */
export async function siemEventsAfter(db: Queryable, afterSeq: number, limit: number): Promise<SiemEvent[]> {
  return auditEventsWithContext(db, { afterSeq, limit });
}

/** Each sink's cursor with its lag behind the audit head (for people: GET /api/siem/sinks). */
export function siemSinksRepo(db: Queryable): SiemSinksRepo {
  return {
    async list() {
      const head = await auditHeadSeq(db);
      return (await listCursors(db)).map((c) => ({ ...c, lag: Math.max(0, head - c.lastSeq) }));
    },
  };
}
