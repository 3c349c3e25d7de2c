/**
 * The search indexer (worker role), every couple of seconds:
 * - sessions still running: it follows each recording that is not finalised from where it stopped
 *   (search_progress: a byte offset at a line end and the lines begun but not ended), indexes the lines
 *   completed since, and saves the new offset in the same transaction — a running session is
 *   searchable within seconds, and a pass that fails or is repeated indexes nothing twice;
 * - ended sessions not yet indexed whose recording is finalised (or that have none): it reads on from
 *   the saved offset to the end, ends the lines still open, adds the transfers, and writes the
 *   session's "indexed" row (dropping its progress) in one transaction: every line exactly once.
 * Rows are taken with SKIP LOCKED, so several workers (and the lanes of one) share the work;
 * completing a session waits for a live pass that holds its progress. A live pass reads at most about
 * liveBytesPerPass (64 KiB) of each recording: an interactive session's output is current within a pass,
 * while sessions printing megabytes (a download over exec) are followed at that pace and completed at
 * their end — tokenising them live would take the database's CPU from the revocations and logins the
 * same database serves. On its first runs it back-fills every session recorded before
 * the index existed. A recording file that cannot be read is indexed as what it has (its transfers,
 * and lines read before) with the problem noted, not retried forever; a live recording that cannot be
 * read yet is tried again on the next pass.
 */
import { CastLineWalker, type WalkerState } from '../core/typed-lines.js';
import { lineSegments, MAX_TEXT, transferSegments } from '../core/search.js';
import type { Clock } from '../core/clock.js';
import { transaction, type Pool, type Queryable } from '../db/pool.js';
import {
  followLiveRecordings, insertSegments, lockLiveRecordings, lockProgress, lockSessionsToIndex, markIndexed, saveProgress, type ReadProgress,
} from '../db/search-repo.js';
import { transfersRepo } from '../db/transfers-repo.js';
import type { Logger } from '../logger.js';
import { pacer, type Pace } from './pacing.js';
import { readRecordingPiece } from './recording-tail.js';

export interface SearchIndexer {
  /** one pass now; resolves with how many ended sessions it completed (waits for a pass in progress) */
  runOnce(): Promise<number>;
  close(): Promise<void>;
}

export interface SearchIndexerOptions {
  /** between passes; default 2000 ms (a running session's lines are found within about this) */
  intervalMs?: number;
  /** ended sessions completed per transaction */
  batch?: number;
  /** transactions completing ended sessions side by side (default 2: one reads and walks recordings while
   * PostgreSQL parses and indexes the other's text; SKIP LOCKED gives each different sessions) */
  lanes?: number;
  /** live recordings read per transaction */
  liveBatch?: number;
  /** bytes read at a time from one recording */
  pieceBytes?: number;
  /** at most about this many bytes of one live recording per pass (a fast one catches up over passes,
   * or at its end); default 64 KiB */
  liveBytesPerPass?: number;
  /** who builds each segment's tsvector: this worker (default), or PostgreSQL's to_tsvector as before
   * migration 036 — only to compare the two (test/bench/search.ts) */
  tsvector?: 'worker' | 'database';
  /** asked between cast lines and between segments' tsvectors; default: the event loop gets a turn every
   * 4 ms of that work (pacing.ts), so a worker sharing its process with the proxy never holds its relay */
  pace?: Pace;
}

/**
 * The indexer's transactions do not wait for their commit to reach the disk: a crash loses at most the
 * last few of them whole (segments, progress and "indexed" rows commit together), and those sessions
 * are simply indexed again — while the wait would be paid on every batch.
 *
 * They also get 64 MB of work_mem: an insert that fills the GIN index's pending list (16 MB, migration
 * 035) moves it into the index, gathering entries in work_mem between merges; with the default 4 MB it
 * merged the same words into the index four times as often (measured, 2,000 × 200 KB: PostgreSQL CPU
 * −15 %, 6.3 → 7.2 MB/s of text; 256 MB or a 64 MB pending list gained nothing more).
 */
async function indexerSettings(db: Queryable): Promise<void> {
  await db.query("SET LOCAL synchronous_commit = off; SET LOCAL work_mem = '64MB'");
}

export function startSearchIndexer(deps: { pool: Pool; clock: Clock; logger: Logger }, opts: SearchIndexerOptions = {}): SearchIndexer {
  const batch = opts.batch ?? 20;
  const lanes = opts.lanes ?? 2;
  const liveBatch = opts.liveBatch ?? 500;
  const pieceBytes = opts.pieceBytes ?? 4 * 1024 * 1024;
  const liveBytesPerPass = opts.liveBytesPerPass ?? 64 * 1024;
  const tsvector = opts.tsvector ?? 'worker';
  const pace = opts.pace ?? pacer(4);
  let running: Promise<number> | null = null;
  let stopped = false;

  /** Reads `path` on from `progress`, indexing the lines completed; `final`: to the end, all lines ended. */
  async function readOn(db: Queryable, session: { sessionId: string; startedAt: Date }, path: string, progress: ReadProgress, final: boolean): Promise<void> {
    const from = progress.walkerState === null ? undefined : (JSON.parse(progress.walkerState) as WalkerState);
    const walker = new CastLineWalker({ maxLineChars: 2 * MAX_TEXT, from });
    const start = progress.byteOffset;
    const want = final ? pieceBytes : Math.min(pieceBytes, liveBytesPerPass);
    for (;;) {
      const piece = await readRecordingPiece(path, progress.byteOffset, want, final);
      for (const line of piece.lines) {
        walker.line(line);
        const wait = pace();
        if (wait) await wait;
      }
      if (final && piece.atEnd) walker.finish();
      progress.segments += await insertSegments(db, session, lineSegments(walker.take()), tsvector, pace);
      progress.byteOffset = piece.nextOffset;
      progress.walkerState = JSON.stringify(walker.state());
      if (piece.atEnd || (!final && progress.byteOffset - start >= liveBytesPerPass)) return;
    }
  }

  async function completeEnded(): Promise<number> {
    return transaction(deps.pool, async (client) => {
      await indexerSettings(client);
      const sessions = await lockSessionsToIndex(client, batch, deps.clock.now());
      for (const s of sessions) {
        const progress = (await lockProgress(client, s.sessionId)) ?? { byteOffset: 0, walkerState: null, segments: 0 };
        let problem: string | null = null;
        if (s.recordingPath) {
          try {
            await readOn(client, s, s.recordingPath, progress, true);
          } catch (err) {
            problem = `recording not readable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
          }
        }
        const transfers = transferSegments(s, await transfersRepo(client).forSession(s.sessionId));
        const added = await insertSegments(client, s, transfers, tsvector);
        await markIndexed(client, s.sessionId, deps.clock.now(), progress.segments + added, problem);
      }
      return sessions.length;
    });
  }

  async function followLive(): Promise<void> {
    await followLiveRecordings(deps.pool);
    await transaction(deps.pool, async (client) => {
      await indexerSettings(client);
      for (const live of await lockLiveRecordings(client, liveBatch)) {
        const before = live.byteOffset;
        try {
          await readOn(client, live, live.path, live, false);
        } catch (err) {
          // not created yet, or gone with a proxy that died: the session's end (or reconcile) settles it
          deps.logger.debug({ err, sessionId: live.sessionId }, 'search indexer: live recording not readable yet');
          continue;
        }
        if (live.byteOffset !== before) await saveProgress(client, live.sessionId, live, deps.clock.now());
      }
    });
  }

  async function lane(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await completeEnded();
      total += n;
      if (n < batch || stopped) return total;
    }
  }

  async function pass(): Promise<number> {
    const counts = await Promise.all(Array.from({ length: lanes }, lane));
    if (!stopped) await followLive();
    return counts.reduce((a, b) => a + b, 0);
  }

  const runOnce = (): Promise<number> => {
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  };
  const tick = () => {
    runOnce().catch((err: unknown) => deps.logger.warn({ err }, 'search indexer: pass failed; retried on the next tick'));
  };
  const timer = setInterval(tick, opts.intervalMs ?? 2000);
  timer.unref();
  tick();
  return {
    runOnce,
    async close() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
