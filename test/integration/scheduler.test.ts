/** The Scheduler port and the job worker against real BullMQ on Redis and on PostgreSQL. */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { jobId, type JobSpec } from '../../server/core/workflow-ports.js';
import { createBullmqScheduler } from '../../server/jobs/bullmq-scheduler.js';
import { startJobWorker } from '../../server/jobs/job-worker.js';
import { createQueueConnection } from '../../server/jobs/queue-connection.js';
import { createLogger } from '../../server/logger.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger('silent');
const clock = { now: () => new Date() };
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const grantId = () => `g${randomBytes(6).toString('hex')}`;

describe.each([
  ['redis', { redisUrl }],
  ['postgres', {}],
] as const)('scheduler on %s', (_name, backend) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function setup() {
    const conn = createQueueConnection({ ...backend, databaseUrl: inject('databaseUrl'), queuePrefix: `t-${randomBytes(4).toString('hex')}-` });
    const scheduler = createBullmqScheduler(conn, { queueName: 'workflow', clock });
    const queue = conn.createQueue<unknown>('workflow');
    // runs in reverse: workers first, then the queue's data is dropped (each test leaves nothing behind)
    cleanups.push(() => scheduler.close(), () => queue.close(), () => queue.obliterate({ force: true }));
    const runs: { spec: JobSpec; at: number }[] = [];
    let failures = 0;
    async function startWorker() {
      const worker = await startJobWorker(conn, {
        queueName: 'workflow',
        logger,
        handler: async (spec) => {
          runs.push({ spec, at: Date.now() });
          if (failures > 0) {
            failures--;
            throw new Error('transient failure');
          }
        },
      });
      let closed: Promise<void> | undefined;
      const close = () => (closed ??= worker.close());
      cleanups.push(close);
      return { close };
    }
    const failNext = (n: number) => void (failures = n);
    const runsOf = (spec: JobSpec) => runs.filter((r) => jobId(r.spec) === jobId(spec));
    return { conn, scheduler, queue, runs, runsOf, startWorker, failNext };
  }

  it('runs a job once, with its full spec, not before it is due', async () => {
    const t = setup();
    await t.startWorker();
    const spec: JobSpec = { kind: 'grant.warn', grantId: grantId(), minutesLeft: 5, dueAt: inMs(1500) };
    await t.scheduler.schedule(spec);
    await vi.waitFor(() => expect(t.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
    const lateness = t.runs[0].at - Date.parse(spec.dueAt);
    expect(t.runs[0].spec).toEqual(spec);
    expect(lateness).toBeGreaterThanOrEqual(-50);
    expect(lateness).toBeLessThan(3500);
    await sleep(300);
    expect(t.runs).toHaveLength(1);
  });

  it('never runs a cancelled job', async () => {
    const t = setup();
    await t.startWorker();
    const cancelled: JobSpec = { kind: 'grant.expire', grantId: grantId(), dueAt: inMs(800) };
    const control: JobSpec = { kind: 'grant.expire', grantId: grantId(), dueAt: inMs(1000) };
    await t.scheduler.schedule(cancelled);
    await t.scheduler.schedule(control);
    await t.scheduler.cancel([jobId(cancelled), 'grant-expire-nonexistent']);
    await vi.waitFor(() => expect(t.runsOf(control)).toHaveLength(1), { timeout: 5000, interval: 20 });
    await sleep(300);
    expect(t.runsOf(cancelled)).toHaveLength(0);
  });

  it('replaces a waiting job when the same id is scheduled again', async () => {
    const t = setup();
    await t.startWorker();
    const id = grantId();
    const first: JobSpec = { kind: 'grant.expire', grantId: id, dueAt: inMs(500) };
    const second: JobSpec = { kind: 'grant.expire', grantId: id, dueAt: inMs(1500) };
    await t.scheduler.schedule(first);
    await t.scheduler.schedule(second);
    await vi.waitFor(() => expect(t.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(t.runs[0].spec).toEqual(second);
    expect(t.runs[0].at).toBeGreaterThanOrEqual(Date.parse(second.dueAt) - 50);
    await sleep(300);
    expect(t.runs).toHaveLength(1);
  });

  it('ensure does not duplicate or move a waiting job', async () => {
    const t = setup();
    await t.startWorker();
    const id = grantId();
    const original: JobSpec = { kind: 'grant.activate', grantId: id, dueAt: inMs(1000) };
    await t.scheduler.schedule(original);
    await t.scheduler.ensure({ ...original, dueAt: inMs(200) });
    await t.scheduler.ensure(original);
    await vi.waitFor(() => expect(t.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(t.runs[0].spec).toEqual(original);
    await sleep(300);
    expect(t.runs).toHaveLength(1);
  });

  it('ensure adds a job that does not exist', async () => {
    const t = setup();
    await t.startWorker();
    const spec: JobSpec = { kind: 'request.expire', requestId: grantId(), dueAt: inMs(0) };
    await t.scheduler.ensure(spec);
    await vi.waitFor(() => expect(t.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
  });

  it('runs a completed job id again when it is scheduled again', async () => {
    const t = setup();
    await t.startWorker();
    const spec: JobSpec = { kind: 'grant.expire', grantId: grantId(), dueAt: inMs(0) };
    await t.scheduler.schedule(spec);
    await vi.waitFor(() => expect(t.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
    // possibly still active here: schedule waits for it to finish rather than losing the new job
    await t.scheduler.schedule(spec);
    await vi.waitFor(() => expect(t.runs).toHaveLength(2), { timeout: 5000, interval: 20 });
    await vi.waitFor(async () => expect(await t.queue.getJobState(jobId(spec))).toBe('unknown'), { timeout: 5000 });
    await t.scheduler.ensure(spec);
    await vi.waitFor(() => expect(t.runs).toHaveLength(3), { timeout: 5000, interval: 20 });
  });

  it('runs a job that fell due while no worker was running, exactly once', async () => {
    const t = setup();
    const first = await t.startWorker();
    await first.close();
    const spec: JobSpec = { kind: 'grant.expire', grantId: grantId(), dueAt: inMs(400) };
    await t.scheduler.schedule(spec);
    await sleep(900);
    expect(t.runs).toHaveLength(0);
    await t.startWorker();
    await vi.waitFor(() => expect(t.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(t.runs[0].spec).toEqual(spec);
    await sleep(500);
    expect(t.runs).toHaveLength(1);
  });

  it('retries a job whose handler throws', async () => {
    const t = setup();
    await t.startWorker();
    t.failNext(1);
    const spec: JobSpec = { kind: 'grant.activate', grantId: grantId(), dueAt: inMs(0) };
    await t.scheduler.schedule(spec);
    await vi.waitFor(() => expect(t.runs).toHaveLength(2), { timeout: 8000, interval: 50 });
    expect(t.runs[1].spec).toEqual(spec);
    await vi.waitFor(async () => expect(await t.queue.getJobState(jobId(spec))).toBe('unknown'), { timeout: 5000 });
  });

  it('runs an already-due job promptly', async () => {
    const t = setup();
    await t.startWorker();
    const spec: JobSpec = { kind: 'grant.expire', grantId: grantId(), dueAt: inMs(-60_000) };
    const started = Date.now();
    await t.scheduler.schedule(spec);
    await vi.waitFor(() => expect(t.runs).toHaveLength(1), { timeout: 5000, interval: 10 });
    expect(t.runs[0].at - started).toBeLessThan(2000);
  });

  it('fails a malformed payload without retrying and keeps working', async () => {
    const t = setup();
    await t.startWorker();
    await t.queue.add('grant.expire', { kind: 'grant.expire' }, { jobId: 'bogus-payload', attempts: 5 });
    await vi.waitFor(async () => expect(await t.queue.getJobState('bogus-payload')).toBe('failed'), { timeout: 5000 });
    const spec: JobSpec = { kind: 'grant.expire', grantId: grantId(), dueAt: inMs(0) };
    await t.scheduler.schedule(spec);
    await vi.waitFor(() => expect(t.runs).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(t.runs[0].spec).toEqual(spec);
  });
});
