/**
 * Grants on the real scheduler: BullMQ on Redis and on PostgreSQL, the real clock, a real job
 * worker running the workflow's handlers, and a real revocation bus. Windows are seconds long, so
 * grant rows are written through the store (the API only knows whole minutes) and their jobs are
 * scheduled the way the workflow does (scheduleGrantJobs + applyEffects).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { systemClock } from '../../server/core/clock.js';
import { applyEffects, Effects } from '../../server/core/effects.js';
import { revokeGrant, scheduleGrantJobs } from '../../server/core/grants.js';
import type { CoreDeps } from '../../server/core/ports.js';
import { handleJob, reconcile } from '../../server/core/reconcile.js';
import { grantJobIds } from '../../server/core/revocation.js';
import type { Grant } from '../../server/core/types.js';
import type { RevocationEvent } from '../../server/core/workflow-ports.js';
import { createRevocationBus } from '../../server/bus/create-bus.js';
import { createBullmqScheduler } from '../../server/jobs/bullmq-scheduler.js';
import { startJobWorker } from '../../server/jobs/job-worker.js';
import { createQueueConnection } from '../../server/jobs/queue-connection.js';
import { createLogger } from '../../server/logger.js';
import { createTestDatabase } from '../support/databases.js';
import { startHarness, unique, type Harness } from '../support/harness.js';
import { actionsOf, HOUR, world, type World } from '../support/workflow-fixtures.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger('silent');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sleepUntil = async (t: number) => { while (Date.now() < t) await sleep(Math.min(50, t - Date.now())); };
const count = (xs: string[], x: string) => xs.filter((a) => a === x).length;

// its own database: reconcile() acts on every open grant it can see, and other files' grants live
// on a fake clock; the PostgreSQL job backend still uses the run's database (unique queue names)
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let h: Harness;
let w: World;
beforeAll(async () => {
  db = await createTestDatabase();
  h = await startHarness({ databaseUrl: db.url });
  w = await world(h, { approvers: 1 });
});
afterAll(async () => {
  await h?.close();
  await db?.drop();
});

describe.each([
  ['redis', { redisUrl }],
  ['postgres', {}],
] as const)('grants on the real scheduler (%s)', (_name, backend) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  async function rig() {
    const tag = randomBytes(4).toString('hex');
    const databaseUrl = inject('databaseUrl');
    const conn = createQueueConnection({ ...backend, databaseUrl, queuePrefix: `gs-${tag}-` });
    const scheduler = createBullmqScheduler(conn, { queueName: 'workflow', clock: systemClock });
    const queue = conn.createQueue<unknown>('workflow');
    const bus = createRevocationBus({ ...backend, databaseUrl, logger, channel: `gs_${tag}` });
    const problems: { ctx: unknown; msg: string }[] = [];
    const deps: CoreDeps = {
      ...h.deps, scheduler, clock: systemClock, bus,
      problems: { warn: (ctx, msg) => void problems.push({ ctx, msg }) },
    };
    const events: RevocationEvent[] = [];
    await bus.subscribe((e) => void events.push(e));
    // run in reverse: workers first, then the queue's jobs are dropped, then connections closed
    cleanups.push(() => bus.close(), () => scheduler.close(), () => queue.close(), () => queue.obliterate({ force: true }));

    async function startWorker() {
      const worker = await startJobWorker(conn, { queueName: 'workflow', logger, handler: (job) => handleJob(deps, job) });
      cleanups.push(() => worker.close());
      return worker;
    }
    /** a scheduled grant (with the approved request it comes from) starting/ending that many ms from now */
    async function grant(startInMs: number, endInMs: number): Promise<Grant> {
      const now = Date.now();
      const startsAt = new Date(now + startInMs);
      const endsAt = new Date(now + endInMs);
      return deps.store.transaction(async (tx) => {
        const req = await tx.requests.insert({
          kind: 'access', technicianId: w.tech.user.id, deviceId: w.device.id, extendsGrantId: null,
          reason: 'scheduler integration test', ticketRef: unique('CHG'), startsAt, startsOnApproval: false,
          durationMinutes: 1, approvalsRequired: 1, expiresAt: new Date(now + HOUR), createdAt: new Date(now),
        });
        await tx.requests.close(req.id, 'approved', new Date(now));
        return tx.grants.insert({ requestId: req.id, technicianId: w.tech.user.id, deviceId: w.device.id,
          status: 'scheduled', startsAt, endsAt, activatedAt: null });
      });
    }
    async function scheduleJobs(g: Grant) {
      const fx = new Effects();
      scheduleGrantJobs(fx, g, systemClock.now());
      await applyEffects(deps, fx);
      return fx.jobs;
    }
    const states = async (g: Grant) =>
      Object.fromEntries(await Promise.all(grantJobIds(g.id).map(async (id) => [id, await queue.getJobState(id)] as const)));
    const allGone = async (g: Grant) => Object.values(await states(g)).every((s) => s === 'unknown');
    const read = async (id: string) => (await deps.store.read.grants.byId(id))!;
    // after the commit; the same cut also goes out before it (early: true, server/core/effects.ts)
    const ended = (id: string) => events.filter((e) => e.type === 'grant.ended' && e.grantIds.includes(id) && !e.early);
    const endedEarly = (id: string) => events.filter((e) => e.type === 'grant.ended' && e.grantIds.includes(id) && e.early);
    return { deps, queue, problems, events, ended, endedEarly, startWorker, grant, scheduleJobs, states, allGone, read };
  }

  /** polls the grant's status until it is `until`, recording each read with when it started and finished */
  async function track(read: (id: string) => Promise<Grant>, id: string, until: string, timeoutMs: number) {
    const seen: { status: string; from: number; to: number }[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const from = Date.now();
      const { status } = await read(id);
      const to = Date.now();
      seen.push({ status, from, to });
      if (status === until) return seen;
      if (to > deadline) throw new Error(`grant still ${status} after ${timeoutMs} ms: ${seen.map((s) => s.status).join(',')}`);
      await sleep(20);
    }
  }
  const transitions = (seen: { status: string }[]) => seen.map((s) => s.status).filter((s, i, a) => i === 0 || a[i - 1] !== s);

  it('a grant with a 2-second window activates and expires on its own', async () => {
    const t = await rig();
    await t.startWorker();
    const g = await t.grant(1000, 3000);
    const jobs = await t.scheduleJobs(g);
    expect(jobs.map((j) => j.kind)).toEqual(['grant.activate', 'grant.expire']);
    expect(await t.states(g)).toMatchObject({ [`grant-activate-${g.id}`]: 'delayed', [`grant-expire-${g.id}`]: 'delayed' });

    const seen = await track(t.read, g.id, 'expired', 8000);
    expect(transitions(seen)).toEqual(['scheduled', 'active', 'expired']);
    const start = g.startsAt.getTime();
    const end = g.endsAt.getTime();
    // a read that finished before the start saw it scheduled; one that finished before the end never saw it over
    for (const s of seen.filter((x) => x.to < start)) expect(s.status).toBe('scheduled');
    for (const s of seen.filter((x) => x.to < end)) expect(s.status).not.toBe('expired');
    const done = await t.read(g.id);
    expect(done.activatedAt!.getTime()).toBeGreaterThanOrEqual(start);
    expect(done.activatedAt!.getTime()).toBeLessThan(end);
    expect(done.endedAt!.getTime()).toBeGreaterThanOrEqual(end);
    expect(done.endReason).toBe('window ended');

    await vi.waitFor(() => expect(t.ended(g.id)).toHaveLength(1), { timeout: 3000, interval: 20 });
    expect(t.ended(g.id)[0]).toEqual({ type: 'grant.ended', grantIds: [g.id], reason: 'expired', message: 'window ended' });
    expect(t.endedEarly(g.id)).toEqual([{ type: 'grant.ended', grantIds: [g.id], reason: 'expired', message: 'window ended', early: true }]);
    await vi.waitFor(async () => expect(await t.allGone(g)).toBe(true), { timeout: 5000, interval: 50 });
    const actions = await actionsOf(h, g.id);
    expect(count(actions, 'grant.activated')).toBe(1);
    expect(count(actions, 'grant.expired')).toBe(1);
    expect(t.ended(g.id)).toHaveLength(1);
    expect(t.problems).toEqual([]);
  });

  it("a revoked grant's jobs are gone and never fire", async () => {
    const t = await rig();
    await t.startWorker();
    const g = await t.grant(1000, 60_000);
    await t.scheduleJobs(g);
    // the 5- and 1-minute warnings of a 60 s grant are already past: queue them in the window by hand
    await t.deps.scheduler.schedule({ kind: 'grant.warn', grantId: g.id, minutesLeft: 5, dueAt: new Date(Date.now() + 1500).toISOString() });
    await t.deps.scheduler.schedule({ kind: 'grant.warn', grantId: g.id, minutesLeft: 1, dueAt: new Date(Date.now() + 2000).toISOString() });
    expect(Object.values(await t.states(g))).toEqual(['delayed', 'delayed', 'delayed', 'delayed']);

    const approver = w.approvers[0]!.user;
    const revoked = await revokeGrant(t.deps, { type: 'user', user: approver }, g.id, 'alarm on the ward');
    expect(revoked).toMatchObject({ status: 'revoked', revokedBy: approver.id, endReason: 'alarm on the ward' });
    expect(await t.states(g)).toEqual(Object.fromEntries(grantJobIds(g.id).map((id) => [id, 'unknown'])));
    await vi.waitFor(() => expect(t.ended(g.id)).toHaveLength(1), { timeout: 3000, interval: 20 });
    expect(t.ended(g.id)[0]).toEqual({ type: 'grant.ended', grantIds: [g.id], reason: 'revoked', message: 'alarm on the ward' });

    // past the start and both warnings, with the worker running: nothing fires
    await sleepUntil(Date.now() + 2500);
    expect(await t.read(g.id)).toMatchObject({ status: 'revoked', activatedAt: null, warned5At: null, warned1At: null });
    expect(await actionsOf(h, g.id)).toEqual(['grant.revoked']);
    expect(await t.allGone(g)).toBe(true);
    expect(t.ended(g.id)).toHaveLength(1);
    expect(t.problems).toEqual([]);
  });

  it('a worker started after the end time, racing reconcile, expires the grant exactly once', async () => {
    const t = await rig();
    const g = await t.grant(1000, 2000);
    await t.scheduleJobs(g);
    await sleepUntil(g.endsAt.getTime() + 500);
    expect((await t.read(g.id)).status).toBe('scheduled');
    expect(await t.states(g)).toMatchObject({ [`grant-activate-${g.id}`]: 'delayed', [`grant-expire-${g.id}`]: 'delayed' });

    // as the broker starts: reconcile, and the worker picks up the jobs that fell due meanwhile
    await Promise.all([t.startWorker(), reconcile(t.deps)]);
    await vi.waitFor(async () => expect((await t.read(g.id)).status).toBe('expired'), { timeout: 5000, interval: 20 });
    await vi.waitFor(async () => expect(await t.allGone(g)).toBe(true), { timeout: 5000, interval: 50 });
    const after = await actionsOf(h, g.id);
    expect(after).toEqual(['grant.expired']);
    await vi.waitFor(() => expect(t.ended(g.id)).toHaveLength(1), { timeout: 3000, interval: 20 });
    expect(t.ended(g.id)[0]).toMatchObject({ reason: 'expired' });

    const again = await reconcile(t.deps);
    expect(again).toEqual({ expiredGrants: 0, activatedGrants: 0, expiredRequests: 0, ensuredJobs: 0, dueRotations: 0 });
    expect(await actionsOf(h, g.id)).toEqual(after);
    expect(await t.allGone(g)).toBe(true);
    expect(t.ended(g.id)).toHaveLength(1);
    expect(t.problems).toEqual([]);
  });

  it('reconcile re-creates lost jobs and the grant then expires on its own', async () => {
    const t = await rig();
    await t.startWorker();
    const g = await t.grant(1500, 3000);
    await t.scheduleJobs(g);
    for (const id of grantJobIds(g.id)) await t.queue.remove(id);
    expect(await t.allGone(g)).toBe(true);

    const report = await reconcile(t.deps);
    expect(report).toMatchObject({ expiredGrants: 0, activatedGrants: 0, ensuredJobs: 2 });
    expect(await t.states(g)).toMatchObject({ [`grant-activate-${g.id}`]: 'delayed', [`grant-expire-${g.id}`]: 'delayed' });

    const seen = await track(t.read, g.id, 'expired', 8000);
    expect(transitions(seen)).toEqual(['scheduled', 'active', 'expired']);
    const done = await t.read(g.id);
    expect(done.activatedAt!.getTime()).toBeGreaterThanOrEqual(g.startsAt.getTime());
    expect(done.endedAt!.getTime()).toBeGreaterThanOrEqual(g.endsAt.getTime());
    await vi.waitFor(async () => expect(await t.allGone(g)).toBe(true), { timeout: 5000, interval: 50 });
    expect(await actionsOf(h, g.id)).toEqual(['grant.activated', 'grant.expired']);
    await vi.waitFor(() => expect(t.ended(g.id)).toHaveLength(1), { timeout: 3000, interval: 20 });
    expect(t.problems).toEqual([]);
  });
});
