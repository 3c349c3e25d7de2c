/**
 * Search of sessions still running (§8.7 "within seconds") on the real database: the indexer follows a
 * growing recording from its saved offset — a line is found once it has ended, a line still being
 * typed or a half-written event is not, a repeated pass adds nothing — and when the recording is
 * finalised it reads on to the end: every line of the session is in the index exactly once, the same
 * lines as reading the finished recording whole.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeConnection, recordSessionEnd, recordSessionStart } from '../../server/core/sessions.js';
import { castLines } from '../../server/core/typed-lines.js';
import { tsvectorOf } from '../../server/core/search-tokens.js';
import { startSearchIndexer, type SearchIndexer } from '../../server/jobs/search-indexer.js';
import { as, grantFor, isolatedHarness, person, world, type World } from '../support/workflow-fixtures.js';

const line = (v: unknown) => JSON.stringify(v) + '\n';
const HEADER = line({ version: 2, width: 80, height: 24 });

describe('search indexer: sessions still running', () => {
  const ref = isolatedHarness();
  let w: World;
  let dir: string;
  let indexer: SearchIndexer;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-search-live-'));
    w = await world(ref.h);
    // passes only when the test asks (runOnce)
    indexer = startSearchIndexer({ pool: ref.h.pool, clock: ref.h.clock, logger: pino({ level: 'silent' }) }, { intervalMs: 3_600_000, pieceBytes: 64 });
  });
  afterAll(async () => {
    await indexer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const search = async (q: string) => {
    const auditor = await person(ref.h, ['auditor']);
    const res = await as(ref.h, auditor).get(`/api/search?${new URLSearchParams({ q })}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.items as { sessionId: string; offsetSeconds: number; kind: string; snippet: string }[];
  };
  // every indexed line as kind:text (output segments hold a few lines each, joined by "\n")
  const texts = async (sessionId: string) =>
    (await ref.h.pool.query('SELECT kind, text FROM search_segments WHERE session_id = $1 ORDER BY id', [sessionId])).rows
      .flatMap((r) => (r.text as string).split('\n').map((line) => `${r.kind}:${line}`));

  it('indexes ended lines while the session runs, and each line exactly once after it ends', async () => {
    const h = ref.h;
    const grant = await grantFor(h, w);
    const conn = await authorizeConnection(h.deps, { grantId: grant.id, principal: w.device.name });
    const castPath = path.join(dir, 'live.cast');
    fs.writeFileSync(castPath, HEADER);
    const { session } = await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: null, proxyInstance: 'test', recordingPath: () => castPath });
    const append = (s: string) => fs.appendFileSync(castPath, s);

    append(line([0.2, 'o', 'pump$ ']) + line([1.0, 'i', 'passwd --stdin ']) + line([1.1, 'i', 'vendorsvc\r']));
    append(line([1.2, 'o', 'passwd --stdin vendorsvc\r\nchanged-zulu\r\npump$ ']));
    // a line being typed, and an event the proxy has not finished writing
    append(line([3.0, 'i', 'rm -rf /var/lo']) + '[3.1, "i", "g/inf');
    expect(await indexer.runOnce()).toBe(0);
    expect(await search('vendorsvc')).toEqual(expect.arrayContaining([expect.objectContaining({ sessionId: session.id, kind: 'input', offsetSeconds: 1 })]));
    // the device's lines shown within two seconds make one segment, at the first one's offset
    expect(await search('changed-zulu')).toEqual([expect.objectContaining({ sessionId: session.id, kind: 'output', offsetSeconds: 0.2 })]);
    expect(await search('rm')).toEqual([]); // still being typed

    const before = await texts(session.id);
    expect(await indexer.runOnce()).toBe(0);
    expect(await texts(session.id)).toEqual(before); // nothing new: nothing added

    append('usion"]\n' + line([3.2, 'i', '\r']) + line([3.3, 'b', `o:${Buffer.from([0xff, 0x0d, 0x0a]).toString('base64')}`]) + line([3.3, 'o', '\ufffd\r\n']));
    append(line([4.0, 'o', 'pump$ exit-zeta']));
    await indexer.runOnce();
    expect(await search('rm')).toEqual([expect.objectContaining({ sessionId: session.id, kind: 'input', offsetSeconds: 3, snippet: expect.stringContaining('/var/log/infusion') })]);
    expect(await search('exit-zeta')).toEqual([]); // the device's last line has not ended

    h.clock.advance(10_000);
    await recordSessionEnd(h.deps, session.id, { endReason: 'client_closed', bytesIn: 1, bytesOut: 1, recording: { bytes: fs.statSync(castPath).size, durationMs: 4000, sha256: 'd'.repeat(64) } });
    expect(await indexer.runOnce()).toBe(1);
    expect(await indexer.runOnce()).toBe(0);
    expect(await search('exit-zeta')).toEqual([expect.objectContaining({ sessionId: session.id, kind: 'output', offsetSeconds: 4 })]);

    // exactly the lines of the finished recording read whole, each once
    const whole = castLines(fs.readFileSync(castPath, 'utf8'));
    const expected = [...whole.output.map((l) => `output:${l.text}`), ...whole.input.map((l) => `input:${l.text}`)].sort();
    expect((await texts(session.id)).sort()).toEqual(expected);
    const { rows } = await h.pool.query('SELECT segments, (SELECT count(*)::int FROM search_segments WHERE session_id = $1) AS n FROM search_indexed WHERE session_id = $1', [session.id]);
    expect(rows).toEqual([{ segments: rows[0]?.n, n: rows[0]?.n }]);
    expect((await h.pool.query('SELECT 1 FROM search_progress WHERE session_id = $1', [session.id])).rowCount).toBe(0);
    // each segment holds the tsvector the worker's tokeniser built from its text (migration 036), live or not
    const stored = (await h.pool.query('SELECT text, tsv::text AS tsv FROM search_segments WHERE session_id = $1', [session.id])).rows;
    for (const r of stored) {
      const built = (await h.pool.query('SELECT $1::tsvector::text AS tsv', [tsvectorOf(r.text as string)])).rows[0].tsv;
      expect(r.tsv, r.text as string).toBe(built);
    }
  });
});
