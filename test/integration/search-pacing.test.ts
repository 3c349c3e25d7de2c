/**
 * The search indexer gives the event loop its turns (server/jobs/pacing.ts): where the worker shares a
 * process with the SSH proxy, walking and tokenising a recording 4 MiB at a time held up every relayed
 * keystroke for ~0.1 s per step. Here, on the real database: the indexer asks its pace between cast lines
 * and between segments, and indexing with a pace that yields every time gives exactly the lines of the
 * recording, each once. The pacer itself, under a fake clock: nothing to wait for until its slice is used.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeConnection, recordSessionEnd, recordSessionStart } from '../../server/core/sessions.js';
import { castLines } from '../../server/core/typed-lines.js';
import { pacer } from '../../server/jobs/pacing.js';
import { startSearchIndexer, type SearchIndexer } from '../../server/jobs/search-indexer.js';
import { grantFor, isolatedHarness, world, type World } from '../support/workflow-fixtures.js';

const line = (v: unknown) => JSON.stringify(v) + '\n';

describe('search indexer pacing', () => {
  const ref = isolatedHarness();
  let w: World;
  let dir: string;
  let indexer: SearchIndexer;
  let asked = 0;
  let turns = 0;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-search-pacing-'));
    w = await world(ref.h);
    // a pace that yields every time it is asked: the most interleaving the indexer can meet
    const pace = () => {
      asked++;
      return new Promise<void>((resolve) => setImmediate(() => (turns++, resolve())));
    };
    indexer = startSearchIndexer({ pool: ref.h.pool, clock: ref.h.clock, logger: pino({ level: 'silent' }) }, { intervalMs: 3_600_000, pieceBytes: 16 * 1024, pace });
  });
  afterAll(async () => {
    await indexer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('asks its pace between cast lines and segments, and yielding at each still indexes every line once', async () => {
    const h = ref.h;
    const grant = await grantFor(h, w);
    const conn = await authorizeConnection(h.deps, { grantId: grant.id, principal: w.device.name });
    const castPath = path.join(dir, 'paced.cast');
    let cast = line({ version: 2, width: 80, height: 24 });
    const events = 600;
    for (let i = 0; i < events; i++) {
      const t = i * 0.5;
      cast += i % 10 === 0
        ? line([t, 'i', `grep occlusion-${i} /var/log/pump.log\r`])
        : line([t, 'o', `2026-12-01T05:${String(i % 60).padStart(2, '0')}:00 pump[${4000 + i}]: rate ${i % 97} ml/h check-${i} ok\r\n`]);
    }
    fs.writeFileSync(castPath, cast);
    const { session } = await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: null, proxyInstance: 'test', recordingPath: () => castPath });
    h.clock.advance(events * 500);
    await recordSessionEnd(h.deps, session.id, { endReason: 'client_closed', bytesIn: 1, bytesOut: 1, recording: { bytes: cast.length, durationMs: events * 500, sha256: 'e'.repeat(64) } });

    asked = 0;
    turns = 0;
    expect(await indexer.runOnce()).toBe(1);
    const { rows } = await h.pool.query('SELECT kind, text FROM search_segments WHERE session_id = $1 ORDER BY id', [session.id]);
    const indexed = rows.flatMap((r) => (r.text as string).split('\n').map((l) => `${r.kind}:${l}`)).sort();
    const whole = castLines(cast);
    expect(indexed).toEqual([...whole.output.map((l) => `output:${l.text}`), ...whole.input.map((l) => `input:${l.text}`)].sort());
    // once per cast line walked and once per segment tokenised, each a turn of the event loop
    expect(asked).toBeGreaterThanOrEqual(events + rows.length);
    expect(turns).toBe(asked);
  });
});

describe('pacer', () => {
  it('lets work go on until its slice is used, then waits for a turn of the event loop and starts a new slice', async () => {
    let t = 0;
    const pace = pacer(4, () => t);
    expect(pace()).toBeUndefined();
    t = 3.9;
    expect(pace()).toBeUndefined();
    t = 4;
    let resolved = false;
    const wait = pace()!;
    void wait.then(() => (resolved = true));
    expect(resolved).toBe(false);
    await new Promise((r) => setImmediate(r));
    await wait;
    expect(resolved).toBe(true);
    expect(pace()).toBeUndefined(); // a new slice from the yield
    t = 8.1;
    expect(pace()).toBeInstanceOf(Promise);
  });
});
