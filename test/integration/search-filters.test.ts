/**
 * The search's device, vendor and technician filters read columns each segment carries (migration
 * 038): two vendors' sessions on one database, each filter finds its own and only its own, both plans
 * answer the same, and segments indexed before the migration are back-filled by it.
 */
import { runner } from 'node-pg-migrate';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeConnection, recordSessionStart } from '../../server/core/sessions.js';
import { parseQuery } from '../../server/core/search-tokens.js';
import { insertSegments, readingFor, searchEstimates, searchRepo, searchStatement } from '../../server/db/search-repo.js';
import { createTestDatabase } from '../support/databases.js';
import { startHarness, type Harness } from '../support/harness.js';
import { grantFor, world, type World } from '../support/workflow-fixtures.js';

const migrations = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let h: Harness;
const sides: { w: World; sessionId: string; startedAt: Date }[] = [];

async function sessionOf(w: World): Promise<{ sessionId: string; startedAt: Date }> {
  const grant = await grantFor(h, w);
  const conn = await authorizeConnection(h.deps, { grantId: grant.id, principal: w.device.name });
  const { session } = await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: null, proxyInstance: 'test', recordingPath: () => '/nonexistent.cast' });
  return { sessionId: session.id, startedAt: session.startedAt };
}

beforeAll(async () => {
  db = await createTestDatabase();
  h = await startHarness({ databaseUrl: db.url });
  for (let i = 0; i < 2; i++) {
    const w = await world(h, { approvers: 1 });
    const s = await sessionOf(w);
    await insertSegments(h.pool, s, [{ offsetSeconds: 3 + i, kind: 'output', text: `pump ${i}: occlusion alarm cleared` }]);
    sides.push({ w, ...s });
  }
});
afterAll(async () => {
  await h?.close();
  await db?.drop();
});

const search = (filters: Record<string, unknown>) => searchRepo(h.pool).search({ q: 'occlusion alarm', limit: 50, ...filters });
const sessionsOf = async (filters: Record<string, unknown>) => (await search(filters)).map((hit) => hit.sessionId).sort();

describe('search filters on the segments themselves', () => {
  it('each filter finds its own session and not the other vendor\'s', async () => {
    expect(await sessionsOf({})).toEqual(sides.map((s) => s.sessionId).sort());
    for (const s of sides) {
      expect(await sessionsOf({ technicianId: s.w.tech.user.id })).toEqual([s.sessionId]);
      expect(await sessionsOf({ vendorId: s.w.vendor.id })).toEqual([s.sessionId]);
      expect(await sessionsOf({ deviceId: s.w.device.id })).toEqual([s.sessionId]);
      expect(await sessionsOf({ deviceId: s.w.device.id, technicianId: sides.find((o) => o !== s)!.w.tech.user.id })).toEqual([]);
    }
    const { rows } = await h.pool.query('SELECT session_id, technician_id, device_id, vendor_id FROM search_segments ORDER BY offset_seconds');
    expect(rows).toEqual(sides.map((s) => ({ session_id: s.sessionId, technician_id: s.w.tech.user.id, device_id: s.w.device.id, vendor_id: s.w.vendor.id })));
  });

  it('answers the same from the matches first as from the newest segments', async () => {
    const tsquery = parseQuery('occlusion alarm')!.tsquery;
    for (const s of sides) {
      for (const filters of [{ technicianId: s.w.tech.user.id }, { vendorId: s.w.vendor.id }, { deviceId: s.w.device.id }]) {
        const run = async (from: 'matches' | 'newest') => (await h.pool.query(searchStatement({ q: 'occlusion alarm', limit: 50, ...filters }, tsquery, from))).rows;
        const matches = await run('matches');
        expect(matches.map((r) => r.session_id)).toEqual([s.sessionId]);
        expect(await run('newest')).toEqual(matches);
      }
    }
  });

  // Regression: at 10,000 sessions PostgreSQL answered two common words + one technician from a bitmap of
  // every matching segment ANDed with the technician's rows, all read and sorted (190 ms; 10 ms in order)
  it('reading the newest segments never turns the words into an index condition; reading the matches first does', async () => {
    const tsquery = parseQuery('occlusion alarm')!.tsquery;
    const planOf = async (from: 'matches' | 'newest', filters: Record<string, unknown>) => {
      const c = await h.pool.connect();
      try {
        // only bitmap scans left to choose from: the words' GIN index is used wherever it can be
        await c.query('BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off');
        const st = searchStatement({ q: 'occlusion alarm', limit: 50, ...filters }, tsquery, from);
        return (await c.query(`EXPLAIN ${st.text}`, st.values)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
      } finally {
        await c.query('ROLLBACK');
        c.release();
      }
    };
    for (const filters of [{}, { technicianId: sides[0]!.w.tech.user.id }]) {
      expect(await planOf('matches', filters)).toContain('search_segments_tsv_idx');
      expect(await planOf('newest', filters)).not.toContain('search_segments_tsv_idx');
    }
  });

  it('answers common words for a technician with few segments from that technician\'s segments, newest first', async () => {
    const [a, b] = sides;
    // the first side's session printed the alarm 400 times more; the other technician has one segment
    await insertSegments(h.pool, a!, Array.from({ length: 400 }, (_, i) => ({ offsetSeconds: 100 + i, kind: 'output' as const, text: `pump 0 line ${i}: occlusion alarm` })));
    await h.pool.query('ANALYZE search_segments');
    const tsquery = parseQuery('occlusion alarm')!.tsquery;
    const forB = await searchEstimates(h.pool, { q: 'occlusion alarm', limit: 50, technicianId: b!.w.tech.user.id }, tsquery);
    expect(forB.filtered).toBeLessThan(forB.matches);
    expect(readingFor(forB)).toBe('newest');
    // without a filter every segment matches: reading the matches is reading them all, no more
    expect(readingFor(await searchEstimates(h.pool, { q: 'occlusion alarm', limit: 50 }, tsquery))).toBe('matches');
    expect(await sessionsOf({ technicianId: b!.w.tech.user.id })).toEqual([b!.sessionId]);
    expect((await search({ technicianId: a!.w.tech.user.id })).length).toBe(50);
  });

  it('migration 038 back-fills the segments indexed before it', async () => {
    const migrate = (direction: 'up' | 'down') =>
      runner({ databaseUrl: db.url, dir: migrations, direction, count: direction === 'down' ? 1 : Infinity, migrationsTable: 'pgmigrations', singleTransaction: true, log: () => undefined });
    const applied = await migrate('down');
    expect(applied.map((m) => m.name)).toEqual(['038_search_segment_filters']);
    const [a] = sides;
    await h.pool.query(
      `INSERT INTO search_segments (session_id, session_started_at, offset_seconds, kind, text, tsv)
       VALUES ($1, $2, 9, 'output', 'backfill-omega occlusion alarm', to_tsvector('simple', 'backfill-omega occlusion alarm'))`,
      [a!.sessionId, a!.startedAt],
    );
    expect((await migrate('up')).map((m) => m.name)).toEqual(['038_search_segment_filters']);
    const { rows } = await h.pool.query(`SELECT technician_id, device_id, vendor_id FROM search_segments WHERE text LIKE 'backfill-omega%'`);
    expect(rows).toEqual([{ technician_id: a!.w.tech.user.id, device_id: a!.w.device.id, vendor_id: a!.w.vendor.id }]);
    const hits = await searchRepo(h.pool).search({ q: 'backfill-omega', technicianId: a!.w.tech.user.id, limit: 10 });
    expect(hits).toEqual([expect.objectContaining({ sessionId: a!.sessionId, offsetSeconds: 9 })]);
  });
});
