/**
 * After-commit effects. Entry points collect what must happen outside the database (schedule or
 * cancel jobs, publish revocations, notify people) while their transaction runs, and apply it only
 * once the transaction has committed. A failing effect never undoes the committed change: it is
 * reported, and start-up reconciliation plus the proxy's own timers cover a lost job.
 *
 * One exception: a cut. Access that is taken away is also published the moment the transaction has
 * ended the grants (`publishEarly`), before the rest of its work and its commit, which wait for the
 * audit chain's lock behind every other audited change (a storm of revocations). A proxy acts on it
 * at once; the publication after commit follows, so a session admitted in between (its grant still
 * read as active) is cut then. If the transaction fails after all, sessions were cut for an end
 * that did not happen: the technicians can connect again, nothing was let through.
 */
import type { CoreDeps, Tx } from './ports.js';
import type { JobSpec, NotifyEvent, RevocationEvent } from './workflow-ports.js';

export class Effects {
  /** `early`: publishes a revocation now (not awaited; failures reported by the caller's deps) */
  constructor(private readonly early?: (e: RevocationEvent) => void) {}

  readonly cancels: string[] = [];
  readonly jobs: JobSpec[] = [];
  readonly events: RevocationEvent[] = [];
  readonly notes: (NotifyEvent | ((read: Tx) => Promise<NotifyEvent | null>))[] = [];

  cancel(...jobIds: string[]) {
    this.cancels.push(...jobIds);
  }
  schedule(...jobs: JobSpec[]) {
    this.jobs.push(...jobs);
  }
  publish(e: RevocationEvent) {
    this.events.push(e);
  }
  /** publishes a cut now, before commit, as well as after commit (see above) */
  publishEarly(e: RevocationEvent) {
    this.early?.(e);
  }
  notify(n: NotifyEvent) {
    this.notes.push(n);
  }
  /**
   * A notification whose names (requestContext …) are read after the commit, outside the transaction:
   * a change that ends many grants holds its connection for its own writes only (a storm of revocations
   * queued for connections behind five reads each). Null: nothing to tell.
   */
  notifyAfterCommit(build: (read: Tx) => Promise<NotifyEvent | null>) {
    this.notes.push(build);
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
  for (const note of fx.notes) {
    const n = typeof note === 'function'
      ? await note(deps.store.read).catch((err: unknown) => {
        deps.problems.warn({ err }, 'could not read what a notification tells');
        return null;
      })
      : note;
    if (n) await deps.notifier.notify(n).catch((err) => deps.problems.warn({ err, note: n.type }, 'notification failed'));
  }
}

/** Runs fn in one transaction with an Effects collector, then applies the effects after commit. */
export async function inTransaction<T>(deps: CoreDeps, fn: (tx: Tx, fx: Effects) => Promise<T>): Promise<T> {
  const fx = new Effects((e) => {
    deps.bus.publish(e).catch((err) => deps.problems.warn({ err, event: e.type }, 'could not publish revocation before commit'));
  });
  const result = await deps.store.transaction((tx) => fn(tx, fx));
  await applyEffects(deps, fx);
  return result;
}
