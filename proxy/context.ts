/** What every part of the proxy shares: built once by startSshProxy (and by the browser terminal). */
import type { CoreDeps } from '../server/core/ports.js';
import type { Logger } from '../server/logger.js';
import type { LiveRegistry } from './live-registry.js';
import type { ProxyMetrics } from './metrics.js';

export interface ProxyContext {
  deps: CoreDeps;
  log: Logger;
  registry: LiveRegistry;
  metrics: ProxyMetrics;
  recordingsDir: string;
  recordInput: boolean;
}
