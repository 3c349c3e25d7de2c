import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCast } from '../../proxy/recording/asciicast.js';
import { generateKey, startDeviceSshd, type DeviceSshd } from '../support/device-sshd.js';
import { addUser, startTestBroker, type TestBroker } from '../support/test-broker.js';

const run = promisify(execFile);

describe('SSH proxy smoke', () => {
  let broker: TestBroker;
  let sshd: DeviceSshd;
  let dir: string;
  beforeAll(async () => {
    [broker, sshd] = await Promise.all([startTestBroker(), startDeviceSshd()]);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-tech-'));
  });
  afterAll(async () => {
    await broker?.stop();
    await sshd?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('relays an exec through a certificate and records it', async () => {
    const api = broker.api;
    const admin = await addUser(broker, ['admin']);
    const vendor = await api.ok('POST', '/api/vendors', admin.token, { name: `V ${Date.now()}`, contractRef: 'C', contractEnd: '2099-01-01' });
    const name = `dev-${Date.now().toString(36)}`;
    const device = await api.ok('POST', '/api/devices', admin.token, {
      name, manufacturer: 'M', model: 'X', firmwareBaseline: '1', department: 'lab', clinicalPurpose: 'test',
      criticality: 'low', address: '127.0.0.1', sshPort: sshd.port, hostKey: sshd.hostKey, vendorIds: [vendor.id],
      credential: sshd.credential,
    });
    await api.ok('POST', `/api/devices/${device.id}/lifecycle`, admin.token, { state: 'deployed', reason: 'test' });
    const tech = await addUser(broker, ['technician'], { vendorId: vendor.id });
    const approver = await addUser(broker, ['approver'], { department: 'lab' });
    const req = await api.ok('POST', '/api/access-requests', tech.token, { deviceId: device.id, reason: 'r', ticketRef: 'T-1', durationMinutes: 10 });
    const decided = await api.ok('POST', `/api/access-requests/${req.id}/approve`, approver.token, { comment: 'ok' });
    expect(decided.grant.status).toBe('active');
    const key = generateKey(dir, 'tech');
    const cert = await api.ok('POST', `/api/grants/${decided.grant.id}/ssh-certificate`, tech.token, { publicKey: key.publicKey });
    await fs.writeFile(`${key.path}-cert.pub`, cert.certificate + '\n');
    const args = ['-p', String(broker.sshPort), '-i', key.path, '-o', `CertificateFile=${key.path}-cert.pub`,
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', `${name}@127.0.0.1`];
    const out = await run('ssh', [...args, 'echo hello-from-device; echo to-stderr >&2; exit 3']).catch((e) => e);
    if (!out.stdout.includes('hello')) { console.log(out.stderr); await fs.writeFile('/tmp/broker-log.txt', broker.logLines.join('')); }
    expect(out.stdout).toContain('hello-from-device');
    expect(out.stderr).toContain('to-stderr');
    expect(out.code).toBe(3);
    await expect.poll(async () => (await api.ok('GET', `/api/sessions?grantId=${decided.grant.id}`, admin.token)).items[0]?.endReason).toBe('client_closed');

    // ... and records it: the auditor's download holds what the device printed, on stdout and stderr
    const [session] = (await api.ok('GET', `/api/sessions?grantId=${decided.grant.id}`, admin.token)).items;
    const auditor = await addUser(broker, ['auditor']);
    const rec = await api.call<string>('GET', `/api/sessions/${session.id}/recording`, auditor.token);
    expect(rec.status, rec.body).toBe(200);
    const printed = parseCast(rec.body).events.filter((ev) => ev.code === 'o').map((ev) => ev.data).join('');
    expect(printed).toContain('hello-from-device');
    expect(printed).toContain('to-stderr');
  });
});
