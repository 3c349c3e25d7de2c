/**
 * What every part of the data plane shares in one process: the live-session registry (fed by the
 * revocation bus), metrics, and where recordings go. Built once, used by the SSH proxy and the
 * browser terminal alike.
 */
import fs from 'node:fs/promises';
import type { Registry } from 'prom-client';
import type { CoreDeps } from '../server/core/ports.js';
import type { Logger } from '../server/logger.js';
import { LiveRegistry } from './live-registry.js';
import { createProxyMetrics, type ProxyMetrics } from './metrics.js';

export interface ProxyContext {
  deps: CoreDeps;
  log: Logger;
  registry: LiveRegistry;
  metrics: ProxyMetrics;
  recordingsDir: string;
  recordInput: boolean;
  /** keeps a session's finalisation (recording hash, end row) so shutdown can wait for it */
  track(work: Promise<void>): void;
}

export interface ProxyContextOptions {
  recordingsDir: string;
  recordInput: boolean;
  /** minutes before the grant's end at which live terminals are warned */
  warningMinutes: number[];
}

export async function createProxyContext(
  deps: CoreDeps,
  log: Logger,
  metricsRegistry: Registry,
  opts: ProxyContextOptions,
): Promise<ProxyContext & { close(): Promise<void> }> {
  await fs.mkdir(opts.recordingsDir, { recursive: true, mode: 0o750 });
  const metrics = createProxyMetrics(metricsRegistry);
  const registry = new LiveRegistry(deps.clock, (reason) => metrics.cutoffs.inc({ reason }), opts.warningMinutes);
  const unsubscribe = await deps.bus.subscribe((e) => registry.apply(e));
  const pending = new Set<Promise<void>>();
  return {
    deps, log: log.child({ component: 'proxy' }), registry, metrics,
    recordingsDir: opts.recordingsDir, recordInput: opts.recordInput,
    track(work) {
      pending.add(work);
      void work.finally(() => pending.delete(work));
    },
    async close() {
      await unsubscribe();
      registry.cutAll('the broker is shutting down');
      // let cut sessions write their end and recording hash before the database goes
      await Promise.race([Promise.allSettled([...pending]), new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}
