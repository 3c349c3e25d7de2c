/**
 * Break-glass (§8.6) through the HTTP API on the real PostgreSQL, with a fake clock: emergency access
 * only where the policy allows it and the vendor services the device, capped, active at once and
 * marked emergency; every eligible approver told at once; any approver of the department revokes;
 * only an eligible approver (never the technician) reviews; no second emergency while one is
 * unreviewed; an unreviewed one escalated after 24 h, once. Last, the same through the real Slack
 * queue (Redis) to a local Slack stand-in.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handleJob, reconcile } from '../../server/core/reconcile.js';
import type { NotifyEvent } from '../../server/core/workflow-ports.js';
import { jobId } from '../../server/core/workflow-ports.js';
import { createApp } from '../../server/http/app.js';
import { createQueueConnection } from '../../server/jobs/queue-connection.js';
import { SLACK_QUEUE } from '../../server/notify/slack-jobs.js';
import { createSlackIntegration, type SlackIntegration } from '../../server/notify/slack-setup.js';
import type { SlackWorkerHandle } from '../../server/notify/slack-worker.js';
import { countRows, expectError, sshKeygenPair } from '../support/fixtures.js';
import type { Harness } from '../support/harness.js';
import { blockTexts, startSlackStandIn, type SlackCall, type SlackStandIn } from '../support/slack-standin.js';
import {
  actionsOf, as, auditOf, endedEvents, grantRow, HOUR, isolatedHarness, MIN, overlapAtCommit, person, plus, requestRow, runAt, runDue, T0, world,
  type GrantJson, type Person, type World,
} from '../support/workflow-fixtures.js';

const ctx = isolatedHarness();
let h: Harness;
beforeAll(() => {
  h = ctx.h;
});

interface EmergencyGrant extends GrantJson {
  emergency: boolean; reviewDueAt: string | null; reviewedAt: string | null; reviewedBy: string | null;
  reviewOutcome: string | null; reviewComment: string | null; reviewEscalatedAt: string | null;
}

const allowing = (extra: Record<string, unknown> = {}) => ({ device: { policy: { breakGlass: true, breakGlassMaxMinutes: 20, ...extra } } });
const body = (deviceId: string, extra: Record<string, unknown> = {}) => ({ deviceId, reason: 'ventilator alarm loop, ICU bed 4', durationMinutes: 15, ...extra });
const breakGlass = (p: Person, deviceId: string, extra: Record<string, unknown> = {}) => as(h, p).post('/api/break-glass', body(deviceId, extra));

async function open(p: Person, deviceId: string, extra: Record<string, unknown> = {}): Promise<EmergencyGrant> {
  const res = await breakGlass(p, deviceId, extra);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as EmergencyGrant;
}
const review = (p: Person, grantId: string, outcome = 'justified', comment = 'alarm confirmed by the ward') =>
  as(h, p).post(`/api/grants/${grantId}/review`, { outcome, comment });
const emergencies = (grantId: string, stage?: string) => h.notifier.events.filter(
  (e): e is Extract<NotifyEvent, { type: 'grant.emergency' }> => e.type === 'grant.emergency' && e.grant.grantId === grantId && (!stage || e.stage === stage));

describe('opening emergency access: POST /api/break-glass', () => {
  it('gives an active grant at once, marked emergency everywhere, capped by the policy, with its review due in 24 h', async () => {
    const w = await world(h, allowing());
    const g = await open(w.tech, w.device.id);
    expect(g).toMatchObject({ status: 'active', emergency: true, technicianId: w.tech.user.id, deviceId: w.device.id,
      startsAt: T0.toISOString(), activatedAt: T0.toISOString(), endsAt: plus(15 * MIN).toISOString(),
      reviewDueAt: plus(24 * HOUR).toISOString(), reviewedAt: null });
    // the request record says what it was: break-glass, closed as approved, with no decision
    expect(await requestRow(h, g.requestId)).toMatchObject({ kind: 'break_glass', status: 'approved' });
    expect((await as(h, w.approvers[0]!).get(`/api/grants/${g.id}`)).body).toMatchObject({ emergency: true });
    const audit = (await auditOf(h, g.id)).find((e) => e.action === 'grant.break_glass')!;
    expect(audit).toMatchObject({ actor_type: 'user', actor_id: w.tech.user.id,
      details: expect.objectContaining({ emergency: true, reason: 'ventilator alarm loop, ICU bed 4', durationMinutes: 15 }) });
    // the usual expiry and warnings, plus the review deadline
    expect(h.scheduler.for(g.id).map((j) => jobId(j)).sort()).toEqual([
      `grant-expire-${g.id}`, `grant-review-overdue-${g.id}`, `grant-warn1-${g.id}`, `grant-warn5-${g.id}`]);

    // the certificate carries the emergency mark (read back by the real ssh-keygen)
    const key = sshKeygenPair();
    const cert = await as(h, w.tech).post(`/api/grants/${g.id}/ssh-certificate`, { publicKey: key.publicKey });
    expect(cert.status, JSON.stringify(cert.body)).toBe(201);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bg-cert-'));
    try {
      fs.writeFileSync(path.join(dir, 'id-cert.pub'), `${cert.body.certificate}\n`);
      const listing = execFileSync('ssh-keygen', ['-L', '-f', path.join(dir, 'id-cert.pub')], { encoding: 'utf8' });
      expect(listing).toContain('break-glass@portcullis');
      expect(listing).toContain(`Key ID: "${g.id}"`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is refused where the policy does not allow it, to other vendors, to non-technicians, and on undeployed devices — writing nothing', async () => {
    const w = await world(h, { device: { policy: { breakGlass: false } } });
    const allowed = await world(h, allowing());
    const otherVendorsTech = await person(h, ['technician'], { vendorId: w.vendor.id });
    const before = await countRows(h.pool, ['grants', 'access_requests']);

    expect(expectError(await breakGlass(w.tech, w.device.id), 403, 'forbidden').message).toMatch(/does not allow emergency access/);
    // a technician whose vendor does not service the device does not even see it
    expectError(await breakGlass(otherVendorsTech, allowed.device.id), 404, 'not_found');
    expectError(await breakGlass(allowed.approvers[0]!, allowed.device.id), 403, 'forbidden');
    expectError(await as(h, allowed.tech).post('/api/break-glass', { deviceId: allowed.device.id, durationMinutes: 10 }), 400, 'invalid');
    const suspend = await as(h, allowed.admin).post(`/api/devices/${allowed.device.id}/lifecycle`, { state: 'suspended', reason: 'recall' });
    expect(suspend.status, JSON.stringify(suspend.body)).toBe(200);
    expectError(await breakGlass(allowed.tech, allowed.device.id), 409, 'conflict');

    expect(await countRows(h.pool, ['grants', 'access_requests'])).toEqual(before);
    expect(h.notifier.events.filter((e) => e.type === 'grant.emergency' && e.request.device.id === allowed.device.id)).toEqual([]);
  });

  it('is capped by policy.breakGlassMaxMinutes (default 30, 1..240), not by maxSessionMinutes', async () => {
    const w = await world(h, allowing({ breakGlassMaxMinutes: 20, maxSessionMinutes: 240 }));
    expect(expectError(await breakGlass(w.tech, w.device.id, { durationMinutes: 21 }), 400, 'invalid').message).toMatch(/emergency maximum of 20 minutes/);
    const g = await open(w.tech, w.device.id, { durationMinutes: 20 });
    expect(g.endsAt).toBe(plus(20 * MIN).toISOString());

    const dflt = await world(h, { device: { policy: { breakGlass: true } } });
    expect((await as(h, dflt.admin).get(`/api/devices/${dflt.device.id}`)).body.policy).toMatchObject({ breakGlass: true, breakGlassMaxMinutes: 30 });
    const plain = await world(h);
    expect((await as(h, plain.admin).get(`/api/devices/${plain.device.id}`)).body.policy).toMatchObject({ breakGlass: false, breakGlassMaxMinutes: 30 });
    const tooLong = await as(h, plain.admin).patch(`/api/devices/${plain.device.id}`, { policy: { breakGlassMaxMinutes: 241 } });
    expectError(tooLong, 400, 'invalid');
  });

  it('tells every eligible approver at once — not other departments, not disabled ones, not the technician who is also an approver', async () => {
    const w = await world(h, allowing());
    // a technician who is also an approver of the department: never told to review their own emergency
    const both = await person(h, ['technician', 'approver'], { vendorId: w.vendor.id, department: w.device.policy.approverDepartment });
    await person(h, ['approver'], { department: 'some-other-department' });
    const disabled = await person(h, ['approver'], { department: w.device.policy.approverDepartment });
    await h.pool.query('UPDATE users SET disabled_at = now() WHERE id = $1', [disabled.user.id]);

    const g = await open(both, w.device.id);
    const [told] = emergencies(g.id, 'opened');
    expect(told).toBeDefined();
    expect(told!.grant.approvers.map((a) => a.id).sort()).toEqual(w.approvers.map((a) => a.user.id).sort());
    expect(told!.request).toMatchObject({ kind: 'break_glass', reason: 'ventilator alarm loop, ICU bed 4',
      device: expect.objectContaining({ name: w.device.name }), technician: expect.objectContaining({ id: both.user.id }) });
    expect(told!.grant).toMatchObject({ status: 'active', endsAt: g.endsAt, reviewDueAt: g.reviewDueAt });
    // ...and they may not review it either
    expect(expectError(await review(both, g.id), 403, 'forbidden').message).toMatch(/your own/);
  });

  it('supersedes the technician\'s pending request on the device; refused while they already have active access there', async () => {
    const w = await world(h, allowing());
    const pending = await as(h, w.tech).post('/api/access-requests', { deviceId: w.device.id, reason: 'firmware', ticketRef: 'CHG-1', durationMinutes: 30 });
    expect(pending.status).toBe(201);
    const g = await open(w.tech, w.device.id);
    expect(await requestRow(h, pending.body.id)).toMatchObject({ status: 'cancelled' });
    expect(await review(w.approvers[0]!, g.id)).toMatchObject({ status: 200 });
    expect(expectError(await breakGlass(w.tech, w.device.id), 409, 'conflict').message).toMatch(/already have active access/);
  });

  // Regression: break-glass read the device, the technician and the vendor without locks, so a change
  // taking access away or an approval at the same moment missed it (overlapAtCommit makes them overlap)
  it('opened while the technician is being disabled: the disabling ends it', async () => {
    const w = await world(h, allowing());
    const [opened, disabled] = await overlapAtCommit(h, () => breakGlass(w.tech, w.device.id),
      () => as(h, w.admin).patch(`/api/users/${w.tech.user.id}`, { disabled: true }));
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    expect(disabled.status).toBe(200);
    expect(await grantRow(h, opened.body.id)).toMatchObject({ status: 'revoked', end_reason: 'user disabled' });
    expect(endedEvents(h, opened.body.id)).toHaveLength(1);
  });

  it('and the last approval of the technician\'s request on the same device: one open grant, whichever comes first', async () => {
    const openOn = async (w: World) => (await h.pool.query(
      `SELECT id FROM grants WHERE technician_id = $1 AND device_id = $2 AND status IN ('scheduled', 'active')`, [w.tech.user.id, w.device.id])).rows;
    const approveNow = (w: World, requestId: string) => () => as(h, w.approvers[0]!).post(`/api/access-requests/${requestId}/approve`, { comment: 'ok' });

    const a = await world(h, { ...allowing(), approvers: 1 });
    const reqA = await as(h, a.tech).post('/api/access-requests', { deviceId: a.device.id, reason: 'firmware', ticketRef: 'CHG-2', durationMinutes: 30 });
    const [approved, refused] = await overlapAtCommit(h, approveNow(a, reqA.body.id), () => breakGlass(a.tech, a.device.id));
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(expectError(refused, 409, 'conflict').message).toMatch(/already have active access/);
    expect(await openOn(a)).toHaveLength(1);

    const b = await world(h, { ...allowing(), approvers: 1 });
    const reqB = await as(h, b.tech).post('/api/access-requests', { deviceId: b.device.id, reason: 'firmware', ticketRef: 'CHG-3', durationMinutes: 30 });
    const [opened, late] = await overlapAtCommit(h, () => breakGlass(b.tech, b.device.id), approveNow(b, reqB.body.id));
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    expect(expectError(late, 409, 'conflict').message).toMatch(/cancelled/);
    expect(await openOn(b)).toEqual([{ id: opened.body.id }]);
  });
});

describe('approvers act on it', () => {
  it('any approver of the department revokes it through the kill switch; the sessions are cut', async () => {
    const w = await world(h, allowing());
    const g = await open(w.tech, w.device.id);
    h.clock.advance(2 * MIN);
    const res = await as(h, w.approvers[1]!).post(`/api/grants/${g.id}/revoke`, { reason: 'not an emergency' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: 'revoked', emergency: true, revokedBy: w.approvers[1]!.user.id });
    expect(endedEvents(h, g.id)).toHaveLength(1);
    // revoked, it still must be reviewed: the review deadline stays
    expect(h.scheduler.for(g.id).map((j) => j.kind)).toEqual(['grant.review_overdue']);
  });

  it('only an eligible approver reviews: technician, other department and admin refused; once; listed until then', async () => {
    const w = await world(h, allowing());
    const g = await open(w.tech, w.device.id);
    const stranger = await person(h, ['approver'], { department: 'some-other-department' });
    const unreviewed = async (p: Person) => ((await as(h, p).get('/api/grants?emergency=unreviewed')).body.items as EmergencyGrant[]).map((x) => x.id);
    expect(await unreviewed(w.approvers[0]!)).toContain(g.id);
    expect(await unreviewed(stranger)).not.toContain(g.id);

    expect(expectError(await review(w.tech, g.id), 403, 'forbidden').message).toMatch(/your own/);
    expect(expectError(await review(stranger, g.id), 403, 'forbidden').message).toMatch(w.device.policy.approverDepartment);
    expectError(await review(w.admin, g.id), 403, 'forbidden');
    expectError(await as(h, w.approvers[0]!).post(`/api/grants/${g.id}/review`, { outcome: 'fine', comment: 'x' }), 400, 'invalid');
    expectError(await as(h, w.approvers[0]!).post(`/api/grants/${g.id}/review`, { outcome: 'justified' }), 400, 'invalid');
    expect((await grantRow(h, g.id)).status).toBe('active');
    expect(await actionsOf(h, g.id)).not.toContain('grant.reviewed');

    h.clock.advance(3 * HOUR);
    const res = await review(w.approvers[0]!, g.id);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: 'active', reviewOutcome: 'justified', reviewComment: 'alarm confirmed by the ward',
      reviewedBy: w.approvers[0]!.user.id, reviewedAt: plus(3 * HOUR).toISOString() });
    expect((await auditOf(h, g.id)).find((e) => e.action === 'grant.reviewed')).toMatchObject({
      actor_id: w.approvers[0]!.user.id, details: expect.objectContaining({ outcome: 'justified', late: false }) });
    expect(h.scheduler.for(g.id).map((j) => j.kind)).not.toContain('grant.review_overdue');
    expect(emergencies(g.id, 'reviewed')).toHaveLength(1);
    expect(await unreviewed(w.approvers[0]!)).not.toContain(g.id);
    expect(expectError(await review(w.approvers[1]!, g.id, 'unjustified'), 409, 'conflict').message).toMatch(/already reviewed/);
  });

  it('an unjustified review ends access still running', async () => {
    const w = await world(h, allowing());
    const g = await open(w.tech, w.device.id);
    const res = await review(w.approvers[0]!, g.id, 'unjustified', 'no alarm was logged');
    expect(res.body).toMatchObject({ status: 'revoked', reviewOutcome: 'unjustified' });
    expect((await grantRow(h, g.id)).end_reason).toMatch(/unjustified: no alarm was logged/);
    expect(endedEvents(h, g.id)).toHaveLength(1);
  });

  it('ordinary grants are not reviewed', async () => {
    const w = await world(h, { ...allowing(), approvers: 2 });
    const req = await as(h, w.tech).post('/api/access-requests', { deviceId: w.device.id, reason: 'firmware', ticketRef: 'CHG-2', durationMinutes: 30 });
    const approved = await as(h, w.approvers[0]!).post(`/api/access-requests/${req.body.id}/approve`, { comment: 'ok' });
    const grant = approved.body.grant as EmergencyGrant;
    expect(grant).toMatchObject({ emergency: false, reviewDueAt: null });
    expectError(await review(w.approvers[1]!, grant.id), 409, 'conflict');
  });
});

describe('one unreviewed emergency at a time', () => {
  it('a technician with an unreviewed break-glass cannot open another — on any device, even after it ended — until it is reviewed', async () => {
    const w = await world(h, allowing());
    const second = await world(h, { ...allowing(), vendor: {} });
    await h.pool.query('INSERT INTO vendor_devices (vendor_id, device_id) VALUES ($1, $2)', [w.vendor.id, second.device.id]);
    const g = await open(w.tech, w.device.id);
    await runAt(h, plus(16 * MIN)); // the first one has expired
    expect((await grantRow(h, g.id)).status).toBe('expired');
    const before = await countRows(h.pool, ['grants', 'access_requests']);
    expect(expectError(await breakGlass(w.tech, second.device.id), 409, 'conflict').message).toMatch(/not been reviewed/);
    expect(expectError(await breakGlass(w.tech, w.device.id), 409, 'conflict').message).toMatch(/not been reviewed/);
    expect(await countRows(h.pool, ['grants', 'access_requests'])).toEqual(before);

    expect((await review(w.approvers[0]!, g.id)).status).toBe(200);
    expect((await open(w.tech, second.device.id)).emergency).toBe(true);
  });
});

describe('escalation of an overdue review', () => {
  it('after 24 h unreviewed: audited grant.review_overdue and the approvers told, once; a reviewed one is left alone', async () => {
    const w = await world(h, allowing());
    const g = await open(w.tech, w.device.id);
    const w2 = await world(h, allowing());
    const reviewed = await open(w2.tech, w2.device.id);
    expect((await review(w2.approvers[0]!, reviewed.id)).status).toBe(200);

    await runAt(h, plus(24 * HOUR - MIN));
    expect(await actionsOf(h, g.id)).not.toContain('grant.review_overdue');
    const ran = await runAt(h, plus(24 * HOUR));
    expect(ran.map((j) => jobId(j))).toContain(`grant-review-overdue-${g.id}`);
    const overdue = (await auditOf(h, g.id)).filter((e) => e.action === 'grant.review_overdue');
    expect(overdue).toEqual([expect.objectContaining({ actor_type: 'system', details: expect.objectContaining({ reviewDueAt: g.reviewDueAt }) })]);
    const [told] = emergencies(g.id, 'review_overdue');
    expect(told!.grant.approvers.map((a) => a.id).sort()).toEqual(w.approvers.map((a) => a.user.id).sort());
    const row = (await as(h, w.approvers[0]!).get(`/api/grants/${g.id}`)).body as EmergencyGrant;
    expect(row.reviewEscalatedAt).toBe(plus(24 * HOUR).toISOString());

    // the same job again (a retry, a reconciliation) changes nothing
    await handleJob(h.deps, { kind: 'grant.review_overdue', grantId: g.id, dueAt: g.reviewDueAt! });
    await handleJob(h.deps, { kind: 'grant.review_overdue', grantId: reviewed.id, dueAt: reviewed.reviewDueAt! });
    await runDue(h);
    expect((await actionsOf(h, g.id)).filter((a) => a === 'grant.review_overdue')).toHaveLength(1);
    expect(emergencies(g.id, 'review_overdue')).toHaveLength(1);
    expect(await actionsOf(h, reviewed.id)).not.toContain('grant.review_overdue');

    // still listed, and a late review is recorded as late
    expect(((await as(h, w.approvers[1]!).get('/api/grants?emergency=unreviewed')).body.items as EmergencyGrant[]).map((x) => x.id)).toContain(g.id);
    expect((await review(w.approvers[1]!, g.id)).status).toBe(200);
    expect((await auditOf(h, g.id)).find((e) => e.action === 'grant.reviewed')!.details).toMatchObject({ late: true });
  });
});

describe('after a restart', () => {
  it('reconciliation restores the review deadline of an unreviewed emergency grant, also one that has ended', async () => {
    const w = await world(h, allowing());
    const g = await open(w.tech, w.device.id);
    h.clock.advance(20 * MIN);
    h.scheduler.jobs.clear(); // the queue was lost with the broker
    await reconcile(h.deps);
    expect((await grantRow(h, g.id)).status).toBe('expired');
    expect(h.scheduler.for(g.id)).toEqual([{ kind: 'grant.review_overdue', grantId: g.id, dueAt: g.reviewDueAt }]);
  });
});

describe('on Slack (real queue, local Slack stand-in)', () => {
  const CHANNEL = 'C0EMERGENCY';
  const publicUrl = 'https://portcullis.example';
  let slack: SlackStandIn;
  let integration: SlackIntegration;
  let worker: SlackWorkerHandle;
  let http: ReturnType<typeof supertest>;
  let dropQueue: () => Promise<void>;

  beforeAll(async () => {
    slack = await startSlackStandIn();
    const queues = createQueueConnection({ redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', databaseUrl: inject('databaseUrl'),
      queuePrefix: `t-bg-${randomBytes(4).toString('hex')}-` });
    integration = createSlackIntegration({
      slack: { botToken: 'xoxb-test-token', channel: CHANNEL, apiUrl: slack.url },
      publicUrl, queues, clock: h.clock, logger: h.deps.logger,
      keys: { signing: h.keys.tokenSigning, verifying: h.keys.tokenVerifying }, retry: { attempts: 3, backoffMs: 100 },
    })!;
    const deps = { ...h.deps, notifier: integration.notifier };
    worker = await integration.startWorker(deps);
    http = supertest(createApp(deps));
    const queue = queues.createQueue(SLACK_QUEUE);
    dropQueue = async () => {
      await queue.obliterate({ force: true });
      await queue.close();
    };
  });
  afterAll(async () => {
    await worker?.close();
    await integration?.close();
    await dropQueue?.();
    await slack?.close();
  });

  const texts = (c: SlackCall) => [c.args.text as string, ...blockTexts(c.args.blocks)].join('\n');
  const post = async (p: Person, url: string, b: object) => http.post(url).set(await p.auth()).send(b);

  it('posts the alert to the channel and DMs each eligible approver with the device, technician and reason; later notes thread under it', async () => {
    const w: World = await world(h, allowing());
    const slackIds: string[] = [];
    for (const a of w.approvers) {
      const id = `U${randomBytes(5).toString('hex').toUpperCase()}`;
      await h.pool.query('UPDATE users SET slack_user_id = $2 WHERE id = $1', [a.user.id, id]);
      slackIds.push(id);
    }
    const res = await post(w.tech, '/api/break-glass', body(w.device.id));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const about = (c: SlackCall) => texts(c).includes(w.device.name);

    const [alert] = await slack.waitFor('chat.postMessage', (c) => c.args.channel === CHANNEL && about(c));
    for (const s of ['EMERGENCY ACCESS', w.device.name, w.tech.user.displayName, w.tech.user.username, w.vendor.name, 'ventilator alarm loop, ICU bed 4']) {
      expect(texts(alert!)).toContain(s);
    }
    expect(JSON.stringify(alert!.args.blocks)).toContain(`${publicUrl}/emergency`);
    const dms = await slack.waitFor('chat.postMessage', (c) => slackIds.includes(c.args.channel) && about(c), 2);
    expect(dms.map((c) => c.args.channel).sort()).toEqual([...slackIds].sort());
    for (const dm of dms) expect(texts(dm)).toContain('ventilator alarm loop, ICU bed 4');

    // the revocation is a note in the alert's thread
    expect((await post(w.approvers[0]!, `/api/grants/${res.body.id}/revoke`, { reason: 'handled on site' })).status).toBe(200);
    const [note] = await slack.waitFor('chat.postMessage', (c) => c.args.thread_ts !== undefined && texts(c).includes('handled on site'));
    const { rows } = await h.pool.query(`SELECT ts FROM slack_messages WHERE request_id = $1 AND kind = 'channel'`, [res.body.requestId]);
    expect(note!.args).toMatchObject({ channel: CHANNEL, thread_ts: rows[0].ts });
  });
});
