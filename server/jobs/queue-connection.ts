/**
 * Chooses where BullMQ keeps its jobs: Redis when a URL is configured, otherwise BullMQ's PostgreSQL
 * backend in the application's own database (schema `bullmq`, migrated on first connect).
 * Queues and workers built here own their connections; closing them releases everything.
 */
import { Queue, Worker, createPostgresBackend, type Job, type JobsOptions, type Processor } from 'bullmq';

export type BackendName = 'redis' | 'postgres';

export interface QueueConnectionOptions {
  redisUrl?: string;
  databaseUrl: string;
  /** prepended to every queue name, so a test (or a second deployment) gets queues of its own */
  queuePrefix?: string;
}

/** The part of a BullMQ queue the scheduler uses; the same on both backends. */
export interface JobQueue<D> {
  readonly name: string;
  add(name: string, data: D, opts?: JobsOptions): Promise<unknown>;
  remove(jobId: string): Promise<number>;
  getJobState(jobId: string): Promise<string>;
  /** deletes the queue and all its jobs (tests, decommissioning) */
  obliterate(opts?: { force?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** The part of a BullMQ worker the job worker uses. */
export interface JobWorker {
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'failed', listener: (job: Job | undefined, err: Error) => void): unknown;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}

export interface QueueConnection {
  readonly backendName: BackendName;
  /** the full queue name (prefix applied) */
  queueName(name: string): string;
  createQueue<D>(name: string): JobQueue<D>;
  createWorker<D>(name: string, processor: Processor<D, void>, opts?: { concurrency?: number }): JobWorker;
}

export function createQueueConnection(opts: QueueConnectionOptions): QueueConnection {
  const prefix = opts.queuePrefix ?? '';
  const queueName = (name: string) => `${prefix}${name}`;
  if (opts.redisUrl) {
    const url = opts.redisUrl;
    return {
      backendName: 'redis',
      queueName,
      // producers keep ioredis' bounded retries so an API call fails instead of hanging when Redis is down
      createQueue: <D>(name: string) =>
        new Queue(queueName(name), { connection: { url } }) as unknown as JobQueue<D>,
      createWorker: <D>(name: string, processor: Processor<D, void>, wo: { concurrency?: number } = {}) =>
        new Worker(queueName(name), processor as Processor, {
          connection: { url, maxRetriesPerRequest: null },
          concurrency: wo.concurrency ?? 1,
        }),
    };
  }
  const connection = { connectionString: opts.databaseUrl, migrate: true, application_name: 'portcullis-jobs' };
  return {
    backendName: 'postgres',
    queueName,
    createQueue: <D>(name: string) =>
      new Queue(queueName(name), { connection }, createPostgresBackend) as unknown as JobQueue<D>,
    createWorker: <D>(name: string, processor: Processor<D, void>, wo: { concurrency?: number } = {}) =>
      new Worker(
        queueName(name),
        processor as Processor,
        { connection, concurrency: wo.concurrency ?? 1 },
        createPostgresBackend,
      ),
  };
}
