/**
 * The audit chain's linkage, against the real database: the table's owner switches the append-only
 * trigger off, points one stored event at the wrong predecessor and recomputes that event's own hash so
 * the row is self-consistent. Only the link check can notice; `verify` must name that event.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashAuditEvent } from '../../server/core/audit-chain.js';
import type { AuditEvent } from '../../server/core/types.js';
import { createTestDatabase } from '../support/databases.js';
import { createVendor } from '../support/fixtures.js';
import { makeUser, startHarness, type Harness } from '../support/harness.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let h: Harness;
beforeAll(async () => {
  db = await createTestDatabase(); // the chain is global state, and this test breaks it
  h = await startHarness({ databaseUrl: db.url });
});
afterAll(async () => {
  await h?.close();
  await db?.drop();
});

/** Runs `sql` as the table's owner with the append-only trigger disabled for that transaction only. */
async function asOwnerWithoutTrigger(sql: string, params: unknown[]): Promise<number> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update');
    const r = await c.query(sql, params);
    await c.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update');
    await c.query('COMMIT');
    return r.rowCount ?? 0;
  } finally {
    await c.end();
  }
}

const storedEvents = async (): Promise<AuditEvent[]> => {
  const events: AuditEvent[] = [];
  await h.deps.store.read.audit.forEach((e) => void events.push(e));
  return events;
};

describe('audit chain linkage in the database', () => {
  it('an event re-pointed at the wrong predecessor, its own hash recomputed, is named by verify', async () => {
    const admin = await makeUser(h, ['admin']);
    const auditor = await makeUser(h, ['auditor']);
    for (let i = 0; i < 4; i++) await createVendor(h, admin.auth);
    const before = await storedEvents();
    expect(before.length).toBeGreaterThanOrEqual(4);
    expect((await h.http.get('/api/audit/verify').set(auditor.auth).expect(200)).body.ok).toBe(true);

    // the event in the middle now claims to follow the one two places back (as if its predecessor were gone)
    const target = before[Math.floor(before.length / 2)]!;
    const wrongPrev = before[target.seq - 3]!.hash;
    expect(wrongPrev).not.toBe(target.prevHash);
    const relinked = { ...target, prevHash: wrongPrev };
    const selfConsistentHash = hashAuditEvent(relinked);
    expect(await asOwnerWithoutTrigger('UPDATE audit_events SET prev_hash = $2, hash = $3 WHERE seq = $1', [target.seq, wrongPrev, selfConsistentHash])).toBe(1);

    const after = await storedEvents();
    const altered = after.find((e) => e.seq === target.seq)!;
    expect(altered.prevHash).toBe(wrongPrev);
    expect(hashAuditEvent(altered)).toBe(altered.hash); // the row on its own looks fine: only its link is wrong
    const v = await h.http.get('/api/audit/verify').set(auditor.auth).expect(200);
    expect(v.body).toMatchObject({ ok: false, count: before.length, firstBadSeq: target.seq });

    // the trigger is back on for everyone else
    await expect(h.pool.query('UPDATE audit_events SET prev_hash = prev_hash WHERE seq = 1')).rejects.toThrow(/append-only/);
  });
});
