/**
 * What every part of the data plane shares in one process: the live-session registry (fed by the
 * revocation bus), metrics, and where recordings go. Built once, used by the SSH proxy and the
 * browser terminal alike.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import type { Registry } from 'prom-client';
import type { CoreDeps } from '../server/core/ports.js';
import type { Logger } from '../server/logger.js';
import { checkLiveGrant } from './grant-check.js';
import { GrantConnections } from './grant-connections.js';
import { LiveRegistry, realTimers, type RegistryTimers } from './live-registry.js';
import { createProxyMetrics, type ProxyMetrics } from './metrics.js';
import { closeAbandonedSessions } from '../server/core/sessions.js';

/** size and SHA-256 of a recording file as it is on disk (null when it is gone) */
async function measureFile(path: string): Promise<{ bytes: number; sha256: string } | null> {
  try {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of createReadStream(path)) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    return { bytes, sha256: hash.digest('hex') };
  } catch {
    return null;
  }
}

export interface ProxyContext {
  deps: CoreDeps;
  log: Logger;
  registry: LiveRegistry;
  metrics: ProxyMetrics;
  recordingsDir: string;
  recordInput: boolean;
  /** names this process in the sessions it relays, so it can close them after a crash */
  instanceId: string;
  /** how long a cut client may keep its socket before it is destroyed */
  cutGraceMs: number;
  /** the data plane's timers (idle logoff); fake in unit tests */
  timers: RegistryTimers;
  /** keeps a session's finalisation (recording hash, end row) so shutdown can wait for it */
  track(work: Promise<void>): void;
  /** the connections each grant holds through this process — SSH and browser terminal — and their limit */
  connections: GrantConnections;
}

export interface ProxyContextOptions {
  instanceId: string;
  recordingsDir: string;
  recordInput: boolean;
  /** minutes before the grant's end at which live terminals are warned */
  warningMinutes: number[];
  /** how often every live grant is read again from the database (SESSION_RECHECK_SECONDS) */
  recheckSeconds: number;
  /** how long a cut client may keep its socket before it is destroyed (default 2 s) */
  cutGraceMs?: number;
  timers?: RegistryTimers;
  /** connections one grant may hold through this process at once (SSH_MAX_CONNECTIONS_PER_GRANT; default 64) */
  maxConnectionsPerGrant?: number;
}

export async function createProxyContext(
  deps: CoreDeps,
  log: Logger,
  metricsRegistry: Registry,
  opts: ProxyContextOptions,
): Promise<ProxyContext & { close(): Promise<void> }> {
  await fs.mkdir(opts.recordingsDir, { recursive: true, mode: 0o750 });
  const metrics = createProxyMetrics(metricsRegistry);
  const registry = new LiveRegistry({
    clock: deps.clock,
    ...(opts.timers ? { timers: opts.timers } : {}),
    warningMinutes: opts.warningMinutes,
    checkGrant: (grantId, deviceName) => checkLiveGrant(deps, grantId, deviceName),
    onCut: (reason) => metrics.cutoffs.inc({ reason }),
    onCheckError: (err, grantId) => {
      metrics.recheckFailures.inc();
      log.warn({ err, grantId }, 'could not re-check a live grant; its own end timer still holds');
    },
  });
  // bus messages are hints: after the subscription was lost and is back, read every live grant again
  const unsubscribe = await deps.bus.subscribe((e) => registry.apply(e), { onResubscribed: () => void registry.recheck() });
  registry.startRechecks(opts.recheckSeconds * 1000);
  const closed = await closeAbandonedSessions(deps, opts.instanceId, measureFile);
  if (closed) log.warn({ sessions: closed, instanceId: opts.instanceId }, 'closed sessions left open by an earlier run of this proxy');
  const pending = new Set<Promise<void>>();
  return {
    deps, log: log.child({ component: 'proxy' }), registry, metrics,
    recordingsDir: opts.recordingsDir, recordInput: opts.recordInput, instanceId: opts.instanceId, cutGraceMs: opts.cutGraceMs ?? 2000, timers: opts.timers ?? realTimers,
    connections: new GrantConnections(opts.maxConnectionsPerGrant ?? 64),
    track(work) {
      pending.add(work);
      void work.finally(() => pending.delete(work));
    },
    async close() {
      registry.stopRechecks();
      await unsubscribe();
      registry.cutAll('the broker is shutting down');
      // let cut sessions write their end and recording hash before the database goes
      await Promise.race([Promise.allSettled([...pending]), new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}
