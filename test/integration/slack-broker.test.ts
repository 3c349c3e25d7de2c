/**
 * The Slack wiring of the whole broker (api, proxy, worker in one process, BullMQ on PostgreSQL):
 * with SLACK_* set, a request reaches the stand-in Slack API, the DM's link decides, the messages are
 * updated, and a real SSH session through the proxy becomes thread notes. Without SLACK_BOT_TOKEN
 * nothing Slack is served and approvals still work.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../server/http/auth.js';
import { slackSignature } from '../../server/notify/slack-signature.js';
import { generateKey, startDeviceSshd, type DeviceSshd } from '../support/device-sshd.js';
import { blockTexts, buttons, startSlackStandIn, type SlackCall, type SlackStandIn } from '../support/slack-standin.js';
import { addUser, startTestBroker, type TestBroker } from '../support/test-broker.js';

const run = promisify(execFile);
const texts = (c: SlackCall) => [c.args.text as string, ...blockTexts(c.args.blocks)].join('\n');

async function deployedWorld(broker: TestBroker, sshd: DeviceSshd) {
  const api = broker.api;
  const admin = await addUser(broker, ['admin']);
  const vendor = await api.ok('POST', '/api/vendors', admin.token, { name: `Vendor ${Date.now()}`, contractRef: 'C', contractEnd: '2099-01-01' });
  const name = `pump-${Date.now().toString(36)}`;
  const department = `ward-${Date.now().toString(36)}`;
  const device = await api.ok('POST', '/api/devices', admin.token, {
    name, manufacturer: 'M', model: 'X', firmwareBaseline: '1', department, clinicalPurpose: 'test', criticality: 'medium',
    address: '127.0.0.1', sshPort: sshd.port, hostKey: sshd.hostKey, vendorIds: [vendor.id], credential: sshd.credential,
    policy: { approvalsRequired: 1 },
  });
  await api.ok('POST', `/api/devices/${device.id}/lifecycle`, admin.token, { state: 'deployed', reason: 'test' });
  const tech = await addUser(broker, ['technician'], { vendorId: vendor.id });
  const approver = await addUser(broker, ['approver'], { department });
  return { api, admin, vendor, device, tech, approver };
}

describe('the broker with Slack configured', () => {
  let slack: SlackStandIn;
  let broker: TestBroker;
  let sshd: DeviceSshd;
  let dir: string;
  beforeAll(async () => {
    slack = await startSlackStandIn();
    [broker, sshd] = await Promise.all([
      startTestBroker({ SLACK_BOT_TOKEN: 'xoxb-broker', SLACK_CHANNEL: 'C0BROKER', SLACK_API_URL: slack.url, SLACK_SIGNING_SECRET: 'broker-secret' }),
      startDeviceSshd(),
    ]);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-slack-'));
  });
  afterAll(async () => {
    await broker?.stop();
    await sshd?.stop();
    await slack?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('posts the request, decides from the DM link, updates the messages and notes the session', async () => {
    const { api, device, tech, approver } = await deployedWorld(broker, sshd);
    await broker.pool.query("UPDATE users SET slack_user_id = 'U0BROKERAPP' WHERE id = $1", [approver.id]);
    await broker.pool.query("UPDATE users SET slack_user_id = 'U0BROKERTECH' WHERE id = $1", [tech.id]);
    const req = await api.ok('POST', '/api/access-requests', tech.token, { deviceId: device.id, reason: 'swap the battery', ticketRef: 'CHG-7', durationMinutes: 10 });
    const mine = (c: SlackCall) => JSON.stringify(c.args.blocks ?? []).includes(req.id);
    const [post] = await slack.waitFor('chat.postMessage', (c) => c.args.channel === 'C0BROKER' && mine(c));
    expect(texts(post!)).toContain(device.name);
    const [dm] = await slack.waitFor('chat.postMessage', (c) => c.args.channel === 'U0BROKERAPP' && mine(c));

    // the link from the DM: the page, then its form
    const link = new URL(buttons(dm!.args.blocks).portcullis_approve!);
    expect(link.origin).toBe('http://127.0.0.1');
    const page = await fetch(`${broker.httpUrl}${link.pathname}${link.search}`);
    expect(page.status).toBe(200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    // confirmed by the approver signed in to the console in this browser (their session cookie)
    const decided = await fetch(`${broker.httpUrl}/slack/decide`, { method: 'POST', headers: { Cookie: `${SESSION_COOKIE}=${approver.token}` },
      body: new URLSearchParams({ t: link.searchParams.get('t')!, csrf }) });
    expect(decided.status).toBe(200);
    expect((await api.ok('GET', `/api/access-requests/${req.id}`, tech.token)).status).toBe('approved');
    const channelTs = (await broker.pool.query("SELECT ts FROM slack_messages WHERE request_id = $1 AND kind = 'channel'", [req.id])).rows[0].ts;
    await slack.waitFor('chat.update', (c) => c.args.channel === 'C0BROKER' && c.args.ts === channelTs && texts(c).includes('✅ Approved'));
    await slack.waitFor('chat.postMessage', (c) => c.args.channel === 'U0BROKERTECH' && texts(c).includes('approved by'));

    // a real session through the proxy: notes in the channel thread when it starts and ends
    const grant = (await api.ok('GET', `/api/access-requests/${req.id}`, tech.token)).grant;
    const key = generateKey(dir, 'tech');
    const cert = await api.ok('POST', `/api/grants/${grant.id}/ssh-certificate`, tech.token, { publicKey: key.publicKey });
    await fs.writeFile(`${key.path}-cert.pub`, cert.certificate + '\n');
    const out = await run('ssh', ['-p', String(broker.sshPort), '-i', key.path, '-o', `CertificateFile=${key.path}-cert.pub`,
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', `${device.name}@127.0.0.1`, 'echo hi']);
    expect(out.stdout).toContain('hi');
    await slack.waitFor('chat.postMessage', (c) => c.args.thread_ts === channelTs && texts(c).includes('Session started'));
    await slack.waitFor('chat.postMessage', (c) => c.args.thread_ts === channelTs && texts(c).includes('Session ended'));
  });

  it('verifies interactivity callbacks with the configured signing secret', async () => {
    const body = `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', actions: [{ action_id: 'portcullis_review' }] }))}`;
    const ts = String(Math.floor(Date.now() / 1000));
    const post = (sig: string) => fetch(`${broker.httpUrl}/api/slack/interactions`, {
      method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': sig },
    });
    expect((await post(slackSignature('broker-secret', ts, body))).status).toBe(200);
    expect((await post(slackSignature('other-secret', ts, body))).status).toBe(401);
  });
});

describe('the broker without Slack', () => {
  let broker: TestBroker;
  let sshd: DeviceSshd;
  beforeAll(async () => {
    [broker, sshd] = await Promise.all([startTestBroker({ ROLES: 'api,worker' }), startDeviceSshd()]);
  });
  afterAll(async () => {
    await broker?.stop();
    await sshd?.stop();
  });

  it('serves nothing Slack, and the web queue decides as before', async () => {
    const { api, device, tech, approver } = await deployedWorld(broker, sshd);
    const interactions = await fetch(`${broker.httpUrl}/api/slack/interactions`, { method: 'POST', body: 'payload=%7B%7D' });
    expect(interactions.status).toBe(404);
    const req = await api.ok('POST', '/api/access-requests', tech.token, { deviceId: device.id, reason: 'r', ticketRef: 'T-1', durationMinutes: 10 });
    const decided = await api.ok('POST', `/api/access-requests/${req.id}/approve`, approver.token, {});
    expect(decided.request.status).toBe('approved');
    expect(broker.logLines.join('')).not.toContain('Slack approvals on');
  });
});
