/**
 * Full-text search across sessions (§8.7) on the real database: the worker's indexer takes ended
 * sessions with finalised recordings (and ones recorded before it ran: back-fill), and
 * `GET /api/search` finds what the device showed, what the technician typed even unechoed
 * (`stty -echo`: only the input events hold it) and transfer paths, with the offset in the recording
 * and filters by device, vendor, technician and time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeConnection, recordSessionEnd, recordSessionStart } from '../../server/core/sessions.js';
import { recordTransfer } from '../../server/core/transfers.js';
import { parseQuery } from '../../server/core/search-tokens.js';
import { insertSegments, searchStatement } from '../../server/db/search-repo.js';
import { startSearchIndexer } from '../../server/jobs/search-indexer.js';
import { as, grantFor, isolatedHarness, person, world, type World } from '../support/workflow-fixtures.js';

const line = (v: unknown) => JSON.stringify(v);
const BASE64_LINES = Array.from({ length: 20 }, (_, i) => Buffer.from(`firmware block ${i} `.repeat(4)).toString('base64').slice(0, 76));
// the device does not echo the password (stty -echo): only the input events carry it
const CAST = [
  line({ version: 2, width: 80, height: 24 }),
  line([0.2, 'o', 'pump$ ']),
  line([1.0, 'i', 'stty -echo; read secret\r']),
  line([1.1, 'o', 'stty -echo; read secret\r\n']),
  line([4.5, 'i', 'hunter2-zebra\r']),
  line([5.0, 'o', '\r\npump$ ']),
  line([7.25, 'i', 'cat /var/log/infusion-rates.log\r']),
  line([7.3, 'o', 'cat /var/log/infusion-rates.log\r\n\x1b[1mrate 12.5 ml/h occlusion alarm cleared\x1b[0m\r\n']),
  // `cat` of a base64 file: lines without a word anybody can search for
  line([12.0, 'o', `${BASE64_LINES.join('\r\n')}\r\n`]),
  '',
].join('\n');

describe('GET /api/search', () => {
  const ref = isolatedHarness();
  let w: World;
  let sessionId: string;
  let dir: string;

  beforeAll(async () => {
    const h = ref.h;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-search-'));
    w = await world(h);
    const grant = await grantFor(h, w);
    const conn = await authorizeConnection(h.deps, { grantId: grant.id, principal: w.device.name });
    const castPath = path.join(dir, 'one.cast');
    fs.writeFileSync(castPath, CAST);
    const { session } = await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: null, proxyInstance: 'test', recordingPath: () => castPath });
    sessionId = session.id;
    h.clock.advance(60_000);
    await recordTransfer(h.deps, conn, {
      sessionId, grantId: grant.id, requestId: grant.requestId, channel: 'sftp', device: { id: w.device.id, name: w.device.name },
      technician: { id: w.tech.user.id, username: w.tech.user.username, displayName: w.tech.user.displayName },
    }, [], { direction: 'upload', path: '/opt/firmware/pump-4.3.0.bin', bytes: 3, sha256: 'b'.repeat(64), startedAt: h.clock.now(), endedAt: h.clock.now(), outcome: 'complete', reason: null });
    await recordSessionEnd(h.deps, sessionId, { endReason: 'client_closed', bytesIn: 1, bytesOut: 1, recording: { bytes: CAST.length, durationMs: 7300, sha256: 'c'.repeat(64) } });
    // the indexer as the worker runs it: this session was recorded before it started (back-fill)
    const indexer = startSearchIndexer({ pool: h.pool, clock: h.clock, logger: pino({ level: 'silent' }) }, { intervalMs: 60_000 });
    await indexer.runOnce();
    expect(await indexer.runOnce()).toBe(0);
    await indexer.close();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const search = async (query: Record<string, string>) => {
    const auditor = await person(ref.h, ['auditor']);
    const res = await as(ref.h, auditor).get(`/api/search?${new URLSearchParams(query)}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.items as { sessionId: string; deviceName: string; offsetSeconds: number; kind: string; snippet: string }[];
  };

  it('finds a typed but unechoed line through the input events, at its offset', async () => {
    const hits = await search({ q: 'hunter2-zebra' });
    expect(hits).toEqual([{ sessionId, deviceName: w.device.name, offsetSeconds: 4.5, kind: 'input', snippet: '⟦hunter2⟧-⟦zebra⟧' }]);
  });

  it('finds device output without its escape sequences, typed commands and transfer paths', async () => {
    const out = await search({ q: 'occlusion alarm' });
    expect(out).toEqual([expect.objectContaining({ sessionId, kind: 'output', offsetSeconds: 7.3, snippet: expect.stringContaining('⟦occlusion⟧ ⟦alarm⟧') })]);
    expect(out[0]!.snippet).not.toContain('\x1b');
    const typed = await search({ q: 'cat' });
    expect(typed.map((h) => h.kind).sort()).toEqual(['input', 'output']);
    const moved = await search({ q: '/opt/firmware/pump-4.3.0.bin' });
    expect(moved).toEqual([expect.objectContaining({ sessionId, kind: 'transfer', offsetSeconds: 60 })]);
  });

  it('finds a path by one of its components (marked in the snippet), and the typed `stty -echo` command', async () => {
    // PostgreSQL's parser made `/var/log/infusion-rates.log` one token: a component was not found before migration 036
    const component = await search({ q: 'infusion-rates' });
    expect(component.map((h) => h.kind).sort()).toEqual(['input', 'output']);
    expect(component.find((h) => h.kind === 'input')).toMatchObject({ offsetSeconds: 7.25, snippet: 'cat /var/log/⟦infusion⟧-⟦rates⟧.log' });
    expect(await search({ q: 'firmware' })).toEqual([expect.objectContaining({ sessionId, kind: 'transfer', snippet: expect.stringContaining('/opt/⟦firmware⟧/pump-4.3.0.bin') })]);
    const stty = await search({ q: '"stty -echo"' });
    expect(stty).toEqual(expect.arrayContaining([expect.objectContaining({ sessionId, kind: 'input', offsetSeconds: 1, snippet: '⟦stty⟧ -⟦echo⟧; read secret' })]));
    expect(stty.map((h) => h.kind).sort()).toEqual(['input', 'output']);
    // without quotes `-echo` excludes, as websearch syntax always did
    expect(await search({ q: 'stty -echo' })).toEqual([]);
  });

  it('stores no segment without a word (a screen of base64 can never be a hit), and counts what it stored', async () => {
    const { rows } = await ref.h.pool.query('SELECT text, tsv::text AS tsv FROM search_segments WHERE session_id = $1', [sessionId]);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => r.tsv === '')).toEqual([]);
    expect(rows.filter((r) => r.text.includes(BASE64_LINES[3]!))).toEqual([]);
    const { rows: [indexed] } = await ref.h.pool.query('SELECT segments FROM search_indexed WHERE session_id = $1', [sessionId]);
    expect(indexed.segments).toBe(rows.length);
  });

  it('answers a query of only operators or exclusions with no hits', async () => {
    for (const q of ['-', '" "', 'or', '-occlusion', '!& | <->', "'\\'"]) expect(await search({ q }), q).toEqual([]);
  });

  it('still finds segments indexed before migration 036 (their tsvector from to_tsvector) as it did', async () => {
    const { rows: [s] } = await ref.h.pool.query('SELECT started_at FROM sessions WHERE id = $1', [sessionId]);
    await insertSegments(ref.h.pool, { sessionId, startedAt: s.started_at as Date },
      [{ offsetSeconds: 9, kind: 'output', text: 'legacy-kappa less /etc/passwd applied CHG-7781' }], 'database');
    for (const q of ['/etc/passwd', 'CHG-7781', 'legacy-kappa', '"less /etc/passwd"', 'applied -nothing']) {
      expect(await search({ q }), q).toEqual([expect.objectContaining({ sessionId, kind: 'output', offsetSeconds: 9 })]);
    }
    expect((await search({ q: 'CHG-7781' }))[0]!.snippet).toContain('⟦CHG⟧-⟦7781⟧');
  });

  it('filters by device, vendor, technician and time', async () => {
    expect(await search({ q: 'occlusion', deviceId: w.device.id })).toHaveLength(1);
    expect(await search({ q: 'occlusion', vendorId: w.vendor.id })).toHaveLength(1);
    expect(await search({ q: 'occlusion', technicianId: w.tech.user.id })).toHaveLength(1);
    expect(await search({ q: 'occlusion', deviceId: '00000000-0000-4000-8000-000000000000' })).toHaveLength(0);
    expect(await search({ q: 'occlusion', from: '2099-01-01T00:00:00Z' })).toHaveLength(0);
    expect(await search({ q: 'occlusion', to: '2000-01-01T00:00:00Z' })).toHaveLength(0);
  });

  it('answers the same from the matches first as from the newest segments (the plan chosen by the estimate)', async () => {
    for (const [q, filters] of [['occlusion', { vendorId: w.vendor.id }], ['cat or firmware', { technicianId: w.tech.user.id, from: new Date(0) }], ['"stty -echo"', { deviceId: w.device.id }]] as const) {
      const tsquery = parseQuery(q)!.tsquery;
      const run = async (from: 'matches' | 'newest') => (await ref.h.pool.query(searchStatement({ q, limit: 50, ...filters }, tsquery, from))).rows;
      const matches = await run('matches');
      expect(matches.length, q).toBeGreaterThan(0);
      expect(await run('newest'), q).toEqual(matches);
    }
  });

  it('is for auditors and admins only', async () => {
    const res = await as(ref.h, w.approvers[0]!).get('/api/search?q=occlusion');
    expect(res.status).toBe(403);
    expect((await as(ref.h, w.tech).get('/api/search?q=occlusion')).status).toBe(403);
  });
});
