/**
 * Runs scheduled jobs: validates the payload, hands the JobSpec to the workflow handler. A payload that
 * is not a JobSpec is failed without retries (and kept among failed jobs for operators); a handler
 * error is retried by BullMQ with backoff (see bullmq-scheduler's job options).
 */
import { UnrecoverableError, type Job } from 'bullmq';
import { z } from 'zod';
import type { JobHandler, JobSpec } from '../core/workflow-ports.js';
import type { Logger } from '../logger.js';
import type { QueueConnection } from './queue-connection.js';

const id = z.string().min(1).max(200);
const dueAt = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a time');

export const jobSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('grant.activate'), grantId: id, dueAt }),
  z.object({ kind: z.literal('grant.warn'), grantId: id, minutesLeft: z.union([z.literal(5), z.literal(1)]), dueAt }),
  z.object({ kind: z.literal('grant.expire'), grantId: id, dueAt }),
  z.object({ kind: z.literal('request.expire'), requestId: id, dueAt }),
  z.object({ kind: z.literal('grant.review_overdue'), grantId: id, dueAt }),
  z.object({ kind: z.literal('credential.rotate'), deviceId: id, dueAt }),
  z.object({ kind: z.literal('user.expire'), userId: id, dueAt }),
]) satisfies z.ZodType<JobSpec>;

export interface JobWorkerOptions {
  queueName: string;
  handler: JobHandler;
  logger: Logger;
  concurrency?: number;
}

export interface JobWorkerHandle {
  close(): Promise<void>;
}

/** Starts consuming the queue; resolves once the worker's connection is ready. */
export async function startJobWorker(conn: QueueConnection, opts: JobWorkerOptions): Promise<JobWorkerHandle> {
  const log = opts.logger.child({ component: 'job-worker', queue: conn.queueName(opts.queueName), backend: conn.backendName });

  const processor = async (job: Job<unknown, void>): Promise<void> => {
    const parsed = jobSpecSchema.safeParse(job.data);
    if (!parsed.success) {
      log.error({ jobId: job.id, name: job.name, issues: parsed.error.issues.slice(0, 5) }, 'invalid job payload');
      throw new UnrecoverableError('invalid job payload');
    }
    const spec = parsed.data;
    const latenessMs = Date.now() - Date.parse(spec.dueAt);
    log.debug({ jobId: job.id, kind: spec.kind, latenessMs, attempt: job.attemptsMade + 1 }, 'job started');
    const attempt = job.attemptsMade + 1;
    await opts.handler(spec, { attempt, lastAttempt: attempt >= (job.opts.attempts ?? 1) });
  };

  const worker = conn.createWorker<unknown>(opts.queueName, processor, { concurrency: opts.concurrency });
  // without a listener an 'error' event would crash the process; BullMQ reconnects by itself
  // the database ending its connections on purpose (a shutdown: 57P01/57P02) is not a fault of ours
  worker.on('error', (err) => {
    const code = (err as { code?: unknown }).code;
    if (code === '57P01' || code === '57P02') log.info({ code }, 'job worker connection ended by the database');
    else log.error({ err }, 'job worker error');
  });
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, name: job?.name, attemptsMade: job?.attemptsMade, err }, 'job failed'),
  );
  await worker.waitUntilReady();
  log.info('job worker started');
  return {
    async close() {
      await worker.close();
    },
  };
}
