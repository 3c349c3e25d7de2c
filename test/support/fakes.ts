/**
 * In-memory stand-ins for the workflow ports, for tests driven by a fake clock: the scheduler
 * keeps jobs by id (same replace/ensure/cancel semantics as the BullMQ one) and runs the due ones
 * on demand; the bus and notifier record what they were given.
 */
import { jobId, type JobSpec, type Notifier, type NotifyEvent, type RevocationBus, type RevocationEvent, type Scheduler } from '../../server/core/workflow-ports.js';

export class FakeScheduler implements Scheduler {
  readonly jobs = new Map<string, JobSpec>();
  readonly cancelled: string[] = [];

  async schedule(job: JobSpec) {
    this.jobs.set(jobId(job), job);
  }
  async ensure(job: JobSpec) {
    if (!this.jobs.has(jobId(job))) this.jobs.set(jobId(job), job);
  }
  async cancel(ids: string[]) {
    for (const id of ids) if (this.jobs.delete(id)) this.cancelled.push(id);
  }
  /** jobs whose subject (grant, request, device or user id) is `id` */
  for(id: string): JobSpec[] {
    return [...this.jobs.values()].filter((j) =>
      ('grantId' in j ? j.grantId : 'requestId' in j ? j.requestId : 'userId' in j ? j.userId : j.deviceId) === id);
  }
  /** runs every job due at `now`, in due order, removing each before it runs (as a worker would) */
  async runDue(now: Date, handle: (job: JobSpec) => Promise<void>): Promise<JobSpec[]> {
    const due = [...this.jobs.values()].filter((j) => new Date(j.dueAt) <= now).sort((a, b) => a.dueAt.localeCompare(b.dueAt));
    for (const j of due) {
      this.jobs.delete(jobId(j));
      await handle(j);
    }
    return due;
  }
}

export class MemoryBus implements RevocationBus {
  readonly published: RevocationEvent[] = [];
  private handlers = new Set<(e: RevocationEvent) => void>();
  async publish(e: RevocationEvent) {
    this.published.push(e);
    for (const h of this.handlers) h(e);
  }
  async subscribe(h: (e: RevocationEvent) => void) {
    this.handlers.add(h);
    return async () => void this.handlers.delete(h);
  }
}

export class RecordingNotifier implements Notifier {
  readonly events: NotifyEvent[] = [];
  async notify(e: NotifyEvent) {
    this.events.push(e);
  }
}
