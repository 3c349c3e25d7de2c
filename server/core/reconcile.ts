/**
 * Job dispatch and start-up reconciliation. After any outage: grants whose end passed are expired
 * (once: the conditional write makes a second pass a no-op), grants whose start passed are
 * activated, lapsed requests expire, and every open grant and pending request has its jobs again.
 */
import { warningsDue } from './access-rules.js';
import { escalateOverdueReview } from './break-glass.js';
import { activateGrant, expireGrant, warnGrant } from './grants.js';
import type { CoreDeps } from './ports.js';
import { expireRequest } from './requests.js';
import type { JobAttempt, JobSpec } from './workflow-ports.js';
import { rotateDeviceCredential } from './credential-rotation.js';
import { scheduleDueRotations } from './credential-report.js';
import { expireAccount, reconcileAccountExpiry } from './account-expiry.js';

export async function handleJob(deps: CoreDeps, job: JobSpec, attempt?: JobAttempt): Promise<void> {
  switch (job.kind) {
    case 'grant.activate':
      return activateGrant(deps, job.grantId);
    case 'grant.warn':
      return warnGrant(deps, job.grantId, job.minutesLeft);
    case 'grant.expire':
      return expireGrant(deps, job.grantId);
    case 'request.expire':
      return expireRequest(deps, job.requestId);
    case 'grant.review_overdue':
      return escalateOverdueReview(deps, job.grantId);
    case 'credential.rotate':
      await rotateDeviceCredential(deps, job.deviceId, attempt);
      return;
    case 'user.expire':
      return expireAccount(deps, job.userId);
  }
}

export interface ReconcileReport {
  expiredGrants: number;
  activatedGrants: number;
  expiredRequests: number;
  ensuredJobs: number;
  /** rotated device keys found due (old, or a rotation left unfinished) */
  dueRotations: number;
}

export async function reconcile(deps: CoreDeps): Promise<ReconcileReport> {
  const now = deps.clock.now();
  const read = deps.store.read;
  const report: ReconcileReport = { expiredGrants: 0, activatedGrants: 0, expiredRequests: 0, ensuredJobs: 0, dueRotations: 0 };
  for (const g of await read.grants.open()) {
    if (g.endsAt <= now) {
      await expireGrant(deps, g.id);
      report.expiredGrants++;
      continue;
    }
    if (g.status === 'scheduled' && g.startsAt <= now) {
      await activateGrant(deps, g.id);
      report.activatedGrants++;
    }
    const jobs: JobSpec[] = [{ kind: 'grant.expire', grantId: g.id, dueAt: g.endsAt.toISOString() }];
    if (g.status === 'scheduled' && g.startsAt > now) jobs.push({ kind: 'grant.activate', grantId: g.id, dueAt: g.startsAt.toISOString() });
    for (const w of warningsDue(g.endsAt, now)) {
      jobs.push({ kind: 'grant.warn', grantId: g.id, minutesLeft: w.minutesLeft, dueAt: w.at.toISOString() });
    }
    for (const j of jobs) await deps.scheduler.ensure(j);
    report.ensuredJobs += jobs.length;
  }
  for (const r of await read.requests.lapsed(now)) {
    await expireRequest(deps, r.id);
    report.expiredRequests++;
  }
  // an emergency grant's review stays due after the grant itself has ended
  for (const g of await read.grants.list({ emergency: 'unreviewed', limit: 10_000 })) {
    if (g.reviewEscalatedAt || !g.reviewDueAt) continue;
    await deps.scheduler.ensure({ kind: 'grant.review_overdue', grantId: g.id, dueAt: g.reviewDueAt.toISOString() });
    report.ensuredJobs++;
  }
  for (const r of await read.requests.pendingFor({})) {
    await deps.scheduler.ensure({ kind: 'request.expire', requestId: r.id, dueAt: r.expiresAt.toISOString() });
    report.ensuredJobs++;
  }
  report.dueRotations = await scheduleDueRotations(deps);
  // accounts whose end passed while nothing ran, and the jobs of those still running
  report.ensuredJobs += (await reconcileAccountExpiry(deps)).ensuredJobs;
  return report;
}
