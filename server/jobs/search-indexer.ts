/**
 * The search indexer (worker role): every few seconds it takes ended sessions not yet indexed (their
 * recordings finalised), reads each recording, and writes its segments (search.ts) and the session's
 * "indexed" row in one transaction. Rows are taken with SKIP LOCKED, so several workers share the
 * work and none indexes a session twice. On its first runs it back-fills every session recorded
 * before the index existed. A recording file that cannot be read is indexed as what it has (its
 * transfers) with the problem noted, not retried forever.
 */
import { readFile } from 'node:fs/promises';
import { sessionSegments } from '../core/search.js';
import type { Clock } from '../core/clock.js';
import { transaction, type Pool } from '../db/pool.js';
import { lockSessionsToIndex, saveSegments } from '../db/search-repo.js';
import { transfersRepo } from '../db/transfers-repo.js';
import type { Logger } from '../logger.js';

export interface SearchIndexer {
  /** one pass now; resolves with how many sessions it indexed (waits for a pass in progress) */
  runOnce(): Promise<number>;
  close(): Promise<void>;
}

export function startSearchIndexer(deps: { pool: Pool; clock: Clock; logger: Logger }, opts: { intervalMs?: number; batch?: number } = {}): SearchIndexer {
  const batch = opts.batch ?? 20;
  let running: Promise<number> | null = null;
  let stopped = false;

  async function pass(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await transaction(deps.pool, async (client) => {
        const sessions = await lockSessionsToIndex(client, batch);
        for (const s of sessions) {
          let cast: string | null = null;
          let problem: string | null = null;
          if (s.recordingPath) {
            try {
              cast = await readFile(s.recordingPath, 'utf8');
            } catch (err) {
              problem = `recording not readable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
            }
          }
          const transfers = await transfersRepo(client).forSession(s.sessionId);
          await saveSegments(client, s.sessionId, sessionSegments(s, cast, transfers), deps.clock.now(), problem);
        }
        return sessions.length;
      });
      total += n;
      if (n < batch || stopped) return total;
    }
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
  const timer = setInterval(tick, opts.intervalMs ?? 5000);
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
