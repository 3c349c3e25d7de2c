/**
 * The browser terminal and live watch at the WebSocket level (the browser suite drives the same
 * endpoints through the UI): a single-use token opens a recorded shell on a real device sshd,
 * revocation ends it with a reason, and a watcher sees the session from its start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startDeviceSshd, type DeviceSshd } from '../support/device-sshd.js';
import { addUser, startTestBroker, type TestBroker } from '../support/test-broker.js';

interface Received { text: string; controls: { type: string; [k: string]: unknown }[] }

function collect(ws: WebSocket): Received {
  const r: Received = { text: '', controls: [] };
  ws.on('message', (data, isBinary) => {
    if (isBinary) r.text += data.toString();
    else r.controls.push(JSON.parse(data.toString()));
  });
  return r;
}

const closed = (ws: WebSocket) => new Promise<{ code: number; ms: number }>((resolve) => {
  const t0 = Date.now();
  ws.once('close', (code) => resolve({ code, ms: Date.now() - t0 }));
});

describe('browser terminal WebSocket', () => {
  let broker: TestBroker;
  let sshd: DeviceSshd;
  let wsBase: string;
  beforeAll(async () => {
    [broker, sshd] = await Promise.all([startTestBroker(), startDeviceSshd()]);
    wsBase = broker.httpUrl!.replace('http', 'ws');
  });
  afterAll(async () => {
    await broker?.stop();
    await sshd?.stop();
  });

  async function activeGrant() {
    const api = broker.api;
    const admin = await addUser(broker, ['admin']);
    const vendor = await api.ok('POST', '/api/vendors', admin.token, { name: `V ${Date.now()}-${Math.random()}`, contractRef: 'C', contractEnd: '2099-01-01' });
    const device = await api.ok('POST', '/api/devices', admin.token, {
      name: `web-${Date.now().toString(36)}${Math.floor(Math.random() * 1000)}`, manufacturer: 'M', model: 'X', firmwareBaseline: '1',
      department: 'icu', clinicalPurpose: 'test', criticality: 'low', address: '127.0.0.1', sshPort: sshd.port,
      hostKey: sshd.hostKey, vendorIds: [vendor.id], credential: sshd.credential,
    });
    await api.ok('POST', `/api/devices/${device.id}/lifecycle`, admin.token, { state: 'deployed', reason: 'test' });
    const tech = await addUser(broker, ['technician'], { vendorId: vendor.id });
    const approver = await addUser(broker, ['approver'], { department: 'icu' });
    const req = await api.ok('POST', '/api/access-requests', tech.token, { deviceId: device.id, reason: 'r', ticketRef: 'T', durationMinutes: 10 });
    const { grant } = await api.ok('POST', `/api/access-requests/${req.id}/approve`, approver.token, {});
    return { grant, tech, approver, admin, device };
  }

  it('runs a command, is single-use, is watched live, and ends with the revocation reason', async () => {
    const { grant, tech, approver } = await activeGrant();
    const { token, url } = await broker.api.ok('POST', `/api/grants/${grant.id}/terminal-token`, tech.token);
    const ws = new WebSocket(`${wsBase}${url}&cols=100&rows=30`);
    const got = collect(ws);
    await expect.poll(() => got.controls.find((c) => c.type === 'ready'), { timeout: 10_000 }).toBeTruthy();
    const sessionId = got.controls.find((c) => c.type === 'ready')!.sessionId as string;

    // the token was consumed: a second socket with it is refused
    const again = new WebSocket(`${wsBase}/api/terminal?token=${encodeURIComponent(token)}`);
    expect((await closed(again)).code).toBe(4401);

    // a watcher sees what was already recorded, then live output
    ws.send(JSON.stringify({ type: 'input', data: 'echo before-$((20+1))\n' }));
    await expect.poll(() => got.text, { timeout: 10_000 }).toContain('before-21');
    const watch = new WebSocket(`${wsBase}/api/sessions/${sessionId}/watch`, { headers: { authorization: `Bearer ${approver.token}` } });
    const seen: { type: string; event?: [number, string, string]; header?: { width: number } }[] = [];
    watch.on('message', (d) => seen.push(JSON.parse(d.toString())));
    await expect.poll(() => seen.filter((m) => m.type === 'event').map((m) => m.event![2]).join(''), { timeout: 10_000 }).toContain('before-21');
    expect(seen[0]).toMatchObject({ type: 'header', header: { width: 100, height: 30 } });
    ws.send(JSON.stringify({ type: 'input', data: 'echo after-$((40+2))\n' }));
    await expect.poll(() => seen.filter((m) => m.type === 'event').map((m) => m.event![2]).join(''), { timeout: 10_000 }).toContain('after-42');

    const wsClosed = closed(ws);
    await broker.api.ok('POST', `/api/grants/${grant.id}/revoke`, approver.token, { reason: 'patient emergency' });
    const { ms } = await wsClosed;
    expect(ms).toBeLessThan(1000);
    expect(got.controls).toContainEqual(expect.objectContaining({ type: 'end', reason: 'revoked' }));
    expect(got.text).toContain('patient emergency');
    await expect.poll(() => seen.at(-1), { timeout: 10_000 }).toMatchObject({ type: 'end', reason: 'revoked' });
    const session = await broker.api.ok('GET', `/api/sessions/${sessionId}`, approver.token);
    expect(session).toMatchObject({ channel: 'browser', endReason: 'revoked' });
  });

  it('refuses a forged token, and a watcher from another department', async () => {
    const bad = new WebSocket(`${wsBase}/api/terminal?token=not-a-token`);
    expect((await closed(bad)).code).toBe(4401);
    const { grant, tech } = await activeGrant();
    const { url } = await broker.api.ok('POST', `/api/grants/${grant.id}/terminal-token`, tech.token);
    const ws = new WebSocket(`${wsBase}${url}`);
    const got = collect(ws);
    await expect.poll(() => got.controls.find((c) => c.type === 'ready'), { timeout: 10_000 }).toBeTruthy();
    const outsider = await addUser(broker, ['approver'], { department: 'pharmacy' });
    const watch = new WebSocket(`${wsBase}/api/sessions/${got.controls.find((c) => c.type === 'ready')!.sessionId}/watch`, { headers: { authorization: `Bearer ${outsider.token}` } });
    expect((await closed(watch)).code).toBe(4404);
    const foreign = new WebSocket(`${wsBase}/api/terminal?token=x`, { headers: { origin: 'https://evil.example' } });
    await new Promise((r) => foreign.once('error', r));
    ws.close();
  });
});
