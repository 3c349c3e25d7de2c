/**
 * Audit events for refused Slack traffic (bad signatures, refused approval links). These come from
 * unauthenticated callers, so each process writes at most `perMinute` of them: a flood cannot grow
 * the audit chain without bound. Whatever is held back is logged and counted in the next event.
 */
import type { CoreDeps } from '../core/ports.js';

export interface Refusal {
  action: 'slack.signature_refused' | 'slack.link_refused';
  reason: string;
  subjectType?: string | null;
  subjectId?: string | null;
  details?: Record<string, unknown>;
}

export type RefusalAuditor = (r: Refusal) => Promise<void>;

export function createRefusalAuditor(deps: Pick<CoreDeps, 'store' | 'clock' | 'problems'>, opts: { perMinute?: number } = {}): RefusalAuditor {
  const perMinute = opts.perMinute ?? 60;
  let windowStart = 0;
  let written = 0;
  let suppressed = 0;
  return async (r) => {
    const now = deps.clock.now();
    if (now.getTime() - windowStart >= 60_000) {
      windowStart = now.getTime();
      written = 0;
    }
    if (written >= perMinute) {
      suppressed++;
      deps.problems.warn({ action: r.action, reason: r.reason, subjectId: r.subjectId ?? null }, 'Slack refusal not audited (rate limit)');
      return;
    }
    written++;
    const details = { reason: r.reason, ...r.details, ...(suppressed ? { suppressedBefore: suppressed } : {}) };
    suppressed = 0;
    await deps.store.transaction((tx) =>
      tx.audit.append(
        { actorType: 'anonymous', actorId: null, action: r.action, subjectType: r.subjectType ?? null, subjectId: r.subjectId ?? null, details },
        now,
      ),
    );
  };
}
