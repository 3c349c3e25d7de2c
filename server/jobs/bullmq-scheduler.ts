/**
 * The Scheduler port on BullMQ (Redis or PostgreSQL). One job per deterministic id (`jobId(spec)`);
 * the spec itself, with its due time, is the job's data (inside a processor `job.delay` reads 0).
 * Finished jobs are removed on completion so the id can be scheduled again; a failed job (kept for
 * operators) is replaced by the next schedule/ensure of its id.
 */
import type { JobsOptions } from 'bullmq';
import { jobId, type JobSpec, type Scheduler } from '../core/workflow-ports.js';
import type { JobQueue, QueueConnection } from './queue-connection.js';

export interface BullmqSchedulerOptions {
  queueName: string;
  clock: { now(): Date };
  /** how long `schedule` waits for a running job of the same id to finish before giving up */
  activeWaitMs?: number;
}

export type BullmqScheduler = Scheduler & { close(): Promise<void> };

const PENDING_STATES = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children', 'active']);

export const defaultJobOptions = {
  removeOnComplete: true,
  removeOnFail: { count: 1000 },
  attempts: 5,
  backoff: { type: 'exponential', delay: 2000 },
} satisfies JobsOptions;

/**
 * Per kind: a key rotation talks to a device that may be briefly unreachable, so its retries are spread
 * over about half an hour (1, 2, 4, 8, 16 min) before approvers are told.
 */
export const jobOptionsFor: Partial<Record<JobSpec['kind'], JobsOptions>> = {
  'credential.rotate': { attempts: 6, backoff: { type: 'exponential', delay: 60_000 } },
};

export function createBullmqScheduler(conn: QueueConnection, opts: BullmqSchedulerOptions): BullmqScheduler {
  const queue: JobQueue<JobSpec> = conn.createQueue<JobSpec>(opts.queueName);
  const activeWaitMs = opts.activeWaitMs ?? 10_000;

  async function add(job: JobSpec): Promise<void> {
    const delay = Math.max(0, Date.parse(job.dueAt) - opts.clock.now().getTime());
    await queue.add(job.kind, job, { ...defaultJobOptions, ...jobOptionsFor[job.kind], jobId: jobId(job), delay });
  }

  /**
   * Removes whatever job holds the id so a new one can be added. A running job cannot be removed
   * (BullMQ returns 0 while it is locked): wait for it to finish, since adding with a taken id is a
   * silent no-op that would lose the new due time.
   */
  async function clear(id: string): Promise<void> {
    const deadline = Date.now() + activeWaitMs;
    for (;;) {
      const state = await queue.getJobState(id);
      if (state === 'unknown') return;
      if (state !== 'active' && (await queue.remove(id)) === 1) return;
      if (Date.now() > deadline) throw new Error(`job ${id} is still running; cannot replace it`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  return {
    async schedule(job) {
      await clear(jobId(job));
      await add(job);
    },
    async ensure(job) {
      const id = jobId(job);
      const state = await queue.getJobState(id);
      if (PENDING_STATES.has(state)) return;
      // completed (if ever kept) or failed: the id is taken until removed
      if (state !== 'unknown') await queue.remove(id);
      await add(job);
    },
    async cancel(jobIds) {
      for (const id of jobIds) await queue.remove(id);
    },
    close: () => queue.close(),
  };
}
