/** A proxy that died mid-session: on its next start it closes what it left open, hashing the recording as it was flushed. */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createProxyContext } from '../../proxy/context.js';
import { makeUser, startHarness, unique, type Harness } from '../support/harness.js';

describe('sessions left open by a crashed proxy', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    h = await startHarness();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-abandoned-'));
  });
  afterAll(async () => {
    await h.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function openSession(instance: string) {
    const admin = await makeUser(h, ['admin']);
    const vendor = await h.deps.store.transaction((tx) => tx.vendors.insert({ name: unique('V'), contractRef: 'C', contractEnd: '2099-01-01' }));
    const tech = await makeUser(h, ['technician'], { vendorId: vendor.id });
    return h.deps.store.transaction(async (tx) => {
      const device = await tx.devices.insert({
        name: unique('dev'), manufacturer: 'M', model: 'X', serialNumber: null, firmwareBaseline: '1', department: 'lab',
        clinicalPurpose: 'p', criticality: 'low', address: '127.0.0.1', sshPort: 22, hostKey: null,
        policy: { maxSessionMinutes: 60, approvalsRequired: 1, approverDepartment: 'lab', maintenanceWindow: null, allowExec: true, allowPortForwarding: false, forwardPorts: [], idleTimeoutMinutes: 15, supervision: 'none', allowUpload: false, allowDownload: false, transferPaths: [], maxTransferMiB: 4096, allowSftp: false, breakGlass: false, breakGlassMaxMinutes: 30 },
      });
      const now = h.clock.now();
      const req = await tx.requests.insert({
        kind: 'access', technicianId: tech.user.id, deviceId: device.id, extendsGrantId: null, reason: 'r', ticketRef: 't',
        startsAt: now, startsOnApproval: true, durationMinutes: 30, approvalsRequired: 1, expiresAt: now, createdAt: now,
      });
      const grant = await tx.grants.insert({ requestId: req.id, technicianId: tech.user.id, deviceId: device.id, status: 'active', startsAt: now, endsAt: new Date(now.getTime() + 1800_000), activatedAt: now });
      const session = await tx.sessions.insert({ grantId: grant.id, technicianId: tech.user.id, deviceId: device.id, channel: 'shell', command: null, clientAddress: null, startedAt: now, proxyInstance: instance });
      const file = path.join(dir, `${session.id}.cast`);
      await fs.writeFile(file, '{"version":2,"width":80,"height":24}\n[0.1, "o", "flushed before the crash"]\n');
      await tx.recordings.insert(session.id, file);
      return { session, file, admin };
    });
  }

  it('ends them as error and chains the recording hash, touching no other instance', async () => {
    const mine = unique('proxy-a');
    const { session, file } = await openSession(mine);
    const other = await openSession(unique('proxy-b'));
    const ctx = await createProxyContext(h.deps, pino({ level: 'silent' }), new Registry(), { instanceId: mine, recordingsDir: dir, recordInput: false, warningMinutes: [5, 1], recheckSeconds: 5 });
    await ctx.close();
    const ended = await h.deps.store.read.sessions.byId(session.id);
    expect(ended).toMatchObject({ endReason: 'error' });
    const rec = await h.deps.store.read.recordings.bySession(session.id);
    expect(rec?.sha256).toBe(createHash('sha256').update(await fs.readFile(file)).digest('hex'));
    const events = await h.deps.store.read.audit.list({ subjectId: session.id, limit: 10 });
    expect(events.map((e) => e.action)).toEqual(['session.ended', 'recording.finalised']);
    expect((await h.deps.store.read.sessions.byId(other.session.id))?.endedAt).toBeNull();
  });
});
