/** Chooses the revocation bus transport: Redis pub/sub when Redis is configured, else PostgreSQL LISTEN/NOTIFY. */
import type { Logger } from '../logger.js';
import { createPgBus } from './pg-bus.js';
import { withPublishRetry, type PublishStats } from './publish-retry.js';
import { createRedisBus, type ClosableBus } from './redis-bus.js';

export type { ClosableBus };

export interface RevocationBusOptions {
  redisUrl?: string;
  databaseUrl: string;
  logger: Logger;
  /** overrides the channel (tests isolate themselves with one of their own); letters, digits, '_' */
  channel?: string;
}

export type RevocationBusHandle = ClosableBus & { readonly backendName: 'redis' | 'postgres'; readonly publishStats: PublishStats };

/** The bus of a broker process: publishing is retried (see publish-retry.ts). */
export function createRevocationBus(opts: RevocationBusOptions): RevocationBusHandle {
  const { logger, channel } = opts;
  const bus = opts.redisUrl
    ? Object.assign(createRedisBus({ redisUrl: opts.redisUrl, logger, channel }), { backendName: 'redis' as const })
    : Object.assign(createPgBus({ databaseUrl: opts.databaseUrl, logger, channel }), { backendName: 'postgres' as const });
  return withPublishRetry(bus, { logger: logger.child({ component: 'revocation-bus' }) });
}
