/**
 * Publishing a revocation is retried: a cut that never reaches the proxies would only be caught by
 * their periodic re-check (SESSION_RECHECK_SECONDS), so a failed publish is tried again with a short
 * backoff, and every failed attempt and every event finally given up is counted for /metrics.
 */
import type { RevocationBus, RevocationEvent } from '../core/workflow-ports.js';
import type { Logger } from '../logger.js';

export interface PublishStats {
  /** attempts that failed (each retry counts) */
  failedAttempts: number;
  /** events not published after every attempt */
  givenUp: number;
}

export interface PublishRetryOptions {
  logger: Logger;
  /** waits before the 2nd, 3rd… attempt (default 50, 250, 1000 ms) */
  backoffMs?: number[];
  sleep?: (ms: number) => Promise<void>;
}

export function withPublishRetry<B extends RevocationBus>(bus: B, opts: PublishRetryOptions): B & { publishStats: PublishStats } {
  const backoff = opts.backoffMs ?? [50, 250, 1000];
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const stats: PublishStats = { failedAttempts: 0, givenUp: 0 };
  const publish = async (event: RevocationEvent): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await bus.publish(event);
        if (attempt > 0) opts.logger.info({ event: event.type, attempt }, 'revocation published after retrying');
        return;
      } catch (err) {
        stats.failedAttempts++;
        if (attempt >= backoff.length) {
          stats.givenUp++;
          throw err;
        }
        opts.logger.warn({ err, event: event.type, attempt }, 'revocation publish failed; retrying');
        await sleep(backoff[attempt]!);
      }
    }
  };
  return { ...bus, publish, publishStats: stats };
}
