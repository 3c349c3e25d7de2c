/**
 * After-commit effects. Entry points collect what must happen outside the database (schedule or
 * cancel jobs, publish revocations, notify people) while their transaction runs, and apply it only
 * once the transaction has committed. A failing effect never undoes the committed change: it is
 * reported, and start-up reconciliation plus the proxy's own timers cover a lost job.
 */
import type { CoreDeps, Tx } from './ports.js';
import type { JobSpec, NotifyEvent, RevocationEvent } from './workflow-ports.js';

export class Effects {
  readonly cancels: string[] = [];
  readonly jobs: JobSpec[] = [];
  readonly events: RevocationEvent[] = [];
  readonly notes: NotifyEvent[] = [];

  cancel(...jobIds: string[]) {
    this.cancels.push(...jobIds);
  }
  schedule(...jobs: JobSpec[]) {
    this.jobs.push(...jobs);
  }
  publish(e: RevocationEvent) {
    this.events.push(e);
  }
  notify(n: NotifyEvent) {
    this.notes.push(n);
  }
}

export async function applyEffects(deps: CoreDeps, fx: Effects): Promise<void> {
  // revocations first: cutting live sessions is the most urgent thing here
  for (const e of fx.events) {
    await deps.bus.publish(e).catch((err) => deps.problems.warn({ err, event: e.type }, 'could not publish revocation'));
  }
  if (fx.cancels.length) {
    await deps.scheduler.cancel(fx.cancels).catch((err) => deps.problems.warn({ err, jobIds: fx.cancels }, 'could not cancel jobs'));
  }
  for (const j of fx.jobs) {
    await deps.scheduler.schedule(j).catch((err) => deps.problems.warn({ err, job: j.kind }, 'could not schedule job'));
  }
  for (const n of fx.notes) {
    await deps.notifier.notify(n).catch((err) => deps.problems.warn({ err, note: n.type }, 'notification failed'));
  }
}

/** Runs fn in one transaction with an Effects collector, then applies the effects after commit. */
export async function inTransaction<T>(deps: CoreDeps, fn: (tx: Tx, fx: Effects) => Promise<T>): Promise<T> {
  const fx = new Effects();
  const result = await deps.store.transaction((tx) => fn(tx, fx));
  await applyEffects(deps, fx);
  return result;
}
