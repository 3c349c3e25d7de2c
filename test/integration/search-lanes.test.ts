/**
 * Indexers side by side (several workers, two lanes each) index every ended session exactly once.
 * Regression: a lane's locking read judged "not indexed yet" on its statement's snapshot, so a session
 * another lane had just indexed and committed came back and its segments were written twice (the
 * benchmark's search phase failed with "the indexer completed 120 sessions of 100").
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSearchIndexer } from '../../server/jobs/search-indexer.js';
import { grantFor, isolatedHarness, world } from '../support/workflow-fixtures.js';

const SESSIONS = 300;
const ref = isolatedHarness();
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-lanes-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('search indexers side by side', () => {
  it('index each of 300 ended sessions once: one row, its segments once, completions adding up', async () => {
    const h = ref.h;
    const w = await world(h, { approvers: 1 });
    const grant = await grantFor(h, w);
    const ids = Array.from({ length: SESSIONS }, () => randomUUID());
    const paths = ids.map((id, i) => {
      const p = path.join(dir, `${id}.cast`);
      fs.writeFileSync(p, `${JSON.stringify({ version: 2, width: 80, height: 24 })}\n${JSON.stringify([0.5, 'o', `lane-check ${i} occlusion alarm\r\n`])}\n`);
      return p;
    });
    const started = new Date('2031-03-03T09:00:00Z');
    await h.pool.query(
      `INSERT INTO sessions (id, grant_id, technician_id, device_id, channel, started_at, ended_at, end_reason)
       SELECT id, $2, $3, $4, 'shell', $5, $5::timestamptz + (n || ' ms')::interval, 'client_closed' FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n)`,
      [ids, grant.id, w.tech.user.id, w.device.id, started],
    );
    await h.pool.query(
      `INSERT INTO recordings (session_id, path, size_bytes, duration_ms, sha256, finalised_at)
       SELECT s, p, 100, 500, repeat('0', 64), now() FROM unnest($1::uuid[], $2::text[]) AS u(s, p)`,
      [ids, paths],
    );

    // four workers' indexers, two lanes each, one session per transaction: as many commits racing as can be
    const indexers = Array.from({ length: 4 }, () =>
      startSearchIndexer({ pool: h.pool, clock: h.clock, logger: pino({ level: 'silent' }) }, { intervalMs: 3_600_000, batch: 1, lanes: 2 }));
    let completed = 0;
    try {
      for (let round = 0; round < 20; round++) {
        const counts = await Promise.all(indexers.map((i) => i.runOnce()));
        completed += counts.reduce((a, b) => a + b, 0);
        const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM search_indexed WHERE session_id = ANY($1::uuid[])', [ids]);
        if (rows[0].n === SESSIONS) break;
      }
    } finally {
      await Promise.all(indexers.map((i) => i.close()));
    }
    const { rows } = await h.pool.query(
      `SELECT s.id, (SELECT count(*)::int FROM search_segments g WHERE g.session_id = s.id) AS segments,
              (SELECT segments FROM search_indexed i WHERE i.session_id = s.id) AS recorded
         FROM unnest($1::uuid[]) AS s(id)`,
      [ids],
    );
    expect(rows.filter((r) => r.segments !== 1 || r.recorded !== 1)).toEqual([]);
    expect(completed).toBe(SESSIONS);
  });
});
