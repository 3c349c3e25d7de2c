/**
 * The Slack notifier end to end: workflow events → the Slack queue (BullMQ on the real Redis) → the
 * Slack worker → a local stand-in Slack API. Asserts what people see: posts with names, DMs only to
 * eligible approvers, messages updated after decisions, the requester told, thread notes, retries
 * after a Slack failure — and that Slack failing never fails a decision.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handleJob } from '../../server/core/reconcile.js';
import { createApp } from '../../server/http/app.js';
import { slackRoutes } from '../../server/http/routes/slack.js';
import type { HttpDeps } from '../../server/http/deps.js';
import { createQueueConnection } from '../../server/jobs/queue-connection.js';
import { SLACK_QUEUE } from '../../server/notify/slack-jobs.js';
import { createSlackIntegration, type SlackIntegration } from '../../server/notify/slack-setup.js';
import type { SlackWorkerHandle } from '../../server/notify/slack-worker.js';
import { approverSession } from '../support/slack-link-fixtures.js';
import { startHarness, type Harness } from '../support/harness.js';
import { blockTexts, buttons, startSlackStandIn, type SlackCall, type SlackStandIn } from '../support/slack-standin.js';
import { person, requestBody, world, type Person, type World } from '../support/workflow-fixtures.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const publicUrl = 'https://portcullis.example';
const CHANNEL = 'C0APPROVALS';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

let h: Harness;
let slack: SlackStandIn;
let integration: SlackIntegration;
let worker: SlackWorkerHandle;
let deps: HttpDeps;
let http: ReturnType<typeof supertest>;
let dropQueue: () => Promise<void>;

beforeAll(async () => {
  h = await startHarness();
  slack = await startSlackStandIn();
  const queues = createQueueConnection({ redisUrl, databaseUrl: inject('databaseUrl'), queuePrefix: `t-slack-${randomBytes(4).toString('hex')}-` });
  integration = createSlackIntegration({
    slack: { botToken: 'xoxb-test-token', channel: CHANNEL, apiUrl: slack.url, signingSecret: 'secret' },
    publicUrl, queues, clock: h.clock, logger: h.deps.logger,
    keys: { signing: h.keys.tokenSigning, verifying: h.keys.tokenVerifying },
    retry: { attempts: 4, backoffMs: 100 },
  })!;
  deps = { ...h.deps, notifier: integration.notifier };
  worker = await integration.startWorker(deps);
  http = supertest(createApp(deps, slackRoutes({ core: deps, publicUrl, links: integration.links, signingSecret: 'secret' })));
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
  await h?.close();
});

const slackId = () => `U${randomBytes(5).toString('hex').toUpperCase()}`;
async function giveSlackId(p: Person): Promise<string> {
  const id = slackId();
  await h.pool.query('UPDATE users SET slack_user_id = $2 WHERE id = $1', [p.user.id, id]);
  return id;
}
const call = async (p: Person, path: string, body: object = {}) => http.post(path).set(await p.auth()).send(body);
async function createRequest(w: World, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call(w.tech, '/api/access-requests', requestBody(w.device.id, extra));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}
const texts = (c: SlackCall) => [c.args.text as string, ...blockTexts(c.args.blocks)].join('\n');
const about = (requestId: string) => (c: SlackCall) => JSON.stringify(c.args.blocks ?? []).includes(`/approvals/${requestId}`);
const messages = async (requestId: string) =>
  (await h.pool.query('SELECT kind, approver_id, channel, ts FROM slack_messages WHERE request_id = $1 ORDER BY kind, channel', [requestId])).rows;

interface Setup { w: World; techSlack: string; slackApprovers: { p: Person; slack: string }[] }

/** A device needing `approvals`, two approvers with Slack ids, one without, plus people who must not get DMs. */
async function setup(approvals: 1 | 2 = 2): Promise<Setup> {
  const w = await world(h, { approvers: 3, device: { criticality: 'high', policy: { approvalsRequired: approvals } } });
  const slackApprovers = [{ p: w.approvers[0]!, slack: await giveSlackId(w.approvers[0]!) }, { p: w.approvers[1]!, slack: await giveSlackId(w.approvers[1]!) }];
  // another department's approver and a disabled approver of this one, both on Slack: no DM for them
  await giveSlackId(await person(h, ['approver'], { department: 'Radiology' }));
  const disabled = await person(h, ['approver'], { department: w.device.policy.approverDepartment });
  await giveSlackId(disabled);
  await h.pool.query('UPDATE users SET disabled_at = now() WHERE id = $1', [disabled.user.id]);
  return { w, techSlack: await giveSlackId(w.tech), slackApprovers };
}

describe('a new request on Slack', () => {
  it('is posted to the channel and DMed to each eligible approver, with names — never bare ids', async () => {
    const { w, slackApprovers } = await setup();
    const requestId = await createRequest(w);
    const [post] = await slack.waitFor('chat.postMessage', (c) => c.args.channel === CHANNEL && about(requestId)(c));
    const dms = await slack.waitFor('chat.postMessage', (c) => c.args.channel !== CHANNEL && about(requestId)(c), 2);

    const shown = texts(post!);
    for (const s of [w.device.name, w.device.department, 'High', w.vendor.name, w.tech.user.displayName, w.tech.user.username,
      'replace the pump firmware', 'When approved, for 30 minutes', '0 of 2']) expect(shown).toContain(s);
    expect(shown).not.toMatch(UUID);
    expect(post!.authorization).toBe('Bearer xoxb-test-token');
    expect(buttons(post!.args.blocks)).toEqual({ portcullis_review: `${publicUrl}/approvals/${requestId}` });

    // DMs: exactly the enabled approvers of the device's department who have a Slack id
    expect(dms.map((c) => c.args.channel).sort()).toEqual(slackApprovers.map((a) => a.slack).sort());
    for (const dm of dms) {
      expect(texts(dm)).not.toMatch(UUID);
      const b = buttons(dm.args.blocks);
      expect(Object.keys(b).sort()).toEqual(['portcullis_approve', 'portcullis_deny', 'portcullis_review']);
      expect(b.portcullis_approve).toMatch(new RegExp(`^${publicUrl}/slack/decide\\?t=`));
      expect(b.portcullis_approve).not.toBe(b.portcullis_deny);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.ok('chat.postMessage', about(requestId))).toHaveLength(3);
    // stored with the channel Slack answered with (a DM's D… id, not the user id) for later updates
    // (each row is written after Slack answered: wait for the rows)
    await expect.poll(async () => (await messages(requestId)).map((m) => m.channel).sort())
      .toEqual([CHANNEL, ...slackApprovers.map((a) => `D${a.slack.slice(1)}`)].sort());
  });
});

describe('after decisions', () => {
  it('the messages show who decided and the outcome; the requester is told', async () => {
    const { w, techSlack, slackApprovers } = await setup();
    const requestId = await createRequest(w);
    await slack.waitFor('chat.postMessage', about(requestId), 3);
    const [first, second] = slackApprovers as [Setup['slackApprovers'][0], Setup['slackApprovers'][0]];
    await expect.poll(async () => (await messages(requestId)).length).toBe(3);
    const stored = await messages(requestId);
    const channelTs = stored.find((m) => m.kind === 'channel')!.ts;

    // the first approval, from the DM's own link: GET shows, POST (its approver signed in to the console) decides
    const dm = slack.ok('chat.postMessage', (c) => c.args.channel === first.slack && about(requestId)(c))[0]!;
    const url = new URL(buttons(dm.args.blocks).portcullis_approve!);
    const page = await http.get(`${url.pathname}${url.search}`);
    expect(page.status).toBe(200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const decided = await http.post('/slack/decide').set(await approverSession(h, first.p)).type('form').send({ t: url.searchParams.get('t')!, csrf });
    expect(decided.status).toBe(200);

    const [channelUpdate] = await slack.waitFor('chat.update', (c) => c.args.ts === channelTs && texts(c).includes('1 of 2'));
    expect(texts(channelUpdate!)).toContain(`*${first.p.user.displayName}* approved`);
    expect(texts(channelUpdate!)).toContain('from Slack');
    const firstDm = stored.find((m) => m.approver_id === first.p.user.id)!;
    const [dmUpdate] = await slack.waitFor('chat.update', (c) => c.args.channel === firstDm.channel && c.args.ts === firstDm.ts);
    expect(Object.keys(buttons(dmUpdate!.args.blocks))).toEqual(['portcullis_review']);
    // the second approver still has their links: their DM is left alone
    const secondDm = stored.find((m) => m.approver_id === second.p.user.id)!;
    expect(slack.ok('chat.update', (c) => c.args.ts === secondDm.ts)).toEqual([]);

    // the final approval, on the web
    expect((await call(second.p, `/api/access-requests/${requestId}/approve`, { comment: 'go ahead' })).status).toBe(200);
    for (const m of stored) {
      const [u] = await slack.waitFor('chat.update', (c) => c.args.ts === m.ts && texts(c).includes('✅ Approved'));
      expect(texts(u!)).toContain(`*${second.p.user.displayName}* approved`);
      expect(texts(u!)).toContain('“go ahead”');
      expect(Object.keys(buttons(u!.args.blocks))).toEqual(['portcullis_review']);
    }
    const [told] = await slack.waitFor('chat.postMessage', (c) => c.args.channel === techSlack && texts(c).includes(w.device.name));
    expect(texts(told!)).toContain(`approved by ${second.p.user.displayName}`);
  });

  it('a denial, an expiry and a revocation reach the requester; a session start is a thread note', async () => {
    const { w, techSlack, slackApprovers } = await setup(1);
    const denied = await createRequest(w);
    await slack.waitFor('chat.postMessage', about(denied), 3);
    expect((await call(slackApprovers[0]!.p, `/api/access-requests/${denied}/deny`, { comment: 'use the spare pump' })).status).toBe(200);
    await slack.waitFor('chat.postMessage', (c) => c.args.channel === techSlack && texts(c).includes('denied by') && texts(c).includes('use the spare pump'));
    await slack.waitFor('chat.update', (c) => about(denied)(c) && texts(c).includes('⛔ Denied'), 3);

    const lapsing = await createRequest(w);
    await slack.waitFor('chat.postMessage', about(lapsing), 3);
    h.clock.advance(25 * 3600_000);
    await h.scheduler.runDue(h.clock.now(), (job) => handleJob(deps, job));
    h.clock.set(new Date());
    await slack.waitFor('chat.postMessage', (c) => c.args.channel === techSlack && texts(c).includes('expired'));
    await slack.waitFor('chat.update', (c) => about(lapsing)(c) && texts(c).includes('⌛ Expired'), 3);

    const granted = await createRequest(w);
    await slack.waitFor('chat.postMessage', about(granted), 3);
    await expect.poll(async () => (await messages(granted)).length).toBe(3);
    const approval = await call(slackApprovers[1]!.p, `/api/access-requests/${granted}/approve`);
    const grant = approval.body.grant as { id: string; requestId: string };
    const channelPost = (await messages(granted)).find((m) => m.kind === 'channel')!;
    await deps.notifier.notify({ type: 'session.started', at: new Date().toISOString(), session: {
      sessionId: randomUUID(), grantId: grant.id, requestId: granted, channel: 'shell',
      device: { id: w.device.id, name: w.device.name }, technician: { id: w.tech.user.id, username: w.tech.user.username, displayName: w.tech.user.displayName },
    } });
    const [note] = await slack.waitFor('chat.postMessage', (c) => c.args.thread_ts === channelPost.ts && texts(c).includes('Session started'));
    expect(note!.args.channel).toBe(CHANNEL);
    expect(texts(note!)).toContain(`${w.tech.user.displayName} (${w.tech.user.username}) on ${w.device.name}`);

    expect((await call(w.admin, `/api/grants/${grant.id}/revoke`, { reason: 'patient emergency' })).status).toBe(200);
    await slack.waitFor('chat.postMessage', (c) => c.args.channel === techSlack && texts(c).includes('revoked') && texts(c).includes('patient emergency'));
    await slack.waitFor('chat.postMessage', (c) => c.args.thread_ts === channelPost.ts && texts(c).includes('revoked'));
  });
});

describe('when Slack fails', () => {
  it('a call answered with HTTP 500 is retried, and posts once', async () => {
    const w = await world(h, { approvers: 1 });
    slack.failNext('chat.postMessage', 2, { status: 500 }, (c) => texts(c).includes(w.device.name));
    const requestId = await createRequest(w);
    const [post] = await slack.waitFor('chat.postMessage', about(requestId));
    const attempts = slack.calls.filter((c) => c.method === 'chat.postMessage' && about(requestId)(c));
    expect(attempts.map((c) => c.answered.status)).toEqual([500, 500, 200]);
    expect(texts(post!)).toContain(w.device.name);
    // the worker stores the message after Slack answers: wait for the row, not for the call
    await expect.poll(async () => (await messages(requestId)).length).toBe(1);
    expect(slack.ok('chat.postMessage', about(requestId))).toHaveLength(1);
  });

  it('an error no retry can fix (ok: false, channel_not_found) is not retried', async () => {
    const w = await world(h, { approvers: 1 });
    slack.failNext('chat.postMessage', 1, { error: 'channel_not_found' }, (c) => texts(c).includes(w.device.name));
    const requestId = await createRequest(w);
    await expect.poll(() => slack.calls.filter((c) => c.method === 'chat.postMessage' && about(requestId)(c)).length).toBe(1);
    await new Promise((r) => setTimeout(r, 600));
    expect(slack.calls.filter((c) => c.method === 'chat.postMessage' && about(requestId)(c))).toHaveLength(1);
    expect(await messages(requestId)).toEqual([]);
  });

  it('never blocks or fails the decision', async () => {
    const { w, slackApprovers } = await setup(1);
    const mine = (c: SlackCall) => texts(c).includes(w.device.name);
    slack.failNext('chat.postMessage', 50, { status: 503 }, mine);
    slack.failNext('chat.update', 50, { status: 503 }, mine);
    const requestId = await createRequest(w);
    const started = Date.now();
    const res = await call(slackApprovers[0]!.p, `/api/access-requests/${requestId}/approve`);
    expect(res.status).toBe(200);
    expect(res.body.request.status).toBe('approved');
    expect(Date.now() - started).toBeLessThan(2000);
    // let the queue drain its retries before the next test counts calls
    await expect.poll(() => slack.calls.filter((c) => c.answered.status === 503).length, { timeout: 10_000 }).toBeGreaterThan(3);
    slack.clearFailures();
  });
});
