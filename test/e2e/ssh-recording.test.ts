/**
 * Issue 4, end to end: the asciicast recording of a real pty session (download, audit trail with the
 * file's hash, playback with the real `asciinema cat`, who may read it) and the sessions API.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCast } from '../../proxy/recording/asciicast.js';
import { addUser } from '../support/test-broker.js';
import {
  MODES, asciinemaCat, auditWhere, certify, downloadRecording, endedSessions, grantFor, liveSession, makeWorld,
  metricValue, newKey, plain, presentCertificate, runSsh, sha256, spawnSsh, sshArgs, useE2E, type E2E, type KeyPair, type SessionJson,
} from '../support/ssh-e2e.js';

const api = (e: E2E) => e.broker.api;

/**
 * One certificate refusal the proxy audits and counts: the technician's own certificate with one bit of
 * its CA signature flipped (grant, principal, serial and key all good: only the signature check refuses
 * it). The intact certificate on the same path is the control: accepted.
 */
async function presentRefused(e: E2E, principal: string, issued: { certificate: string }, key: KeyPair): Promise<void> {
  const [type, b64] = issued.certificate.trim().split(/\s+/);
  const blob = Buffer.from(b64!, 'base64');
  const last = blob.length - 1; // the last byte of the CA's ed25519 signature
  blob.writeUInt8(blob.readUInt8(last) ^ 1, last);
  expect(await presentCertificate(e.sshPort, principal, issued.certificate, key.privateKey)).toBe('accepted');
  const refused = await presentCertificate(e.sshPort, principal, `${type} ${blob.toString('base64')}`, key.privateKey);
  expect(refused).not.toBe('accepted');
  expect(refused).toMatch(/authentication methods failed/);
}

describe.each(MODES)('SSH recordings and the sessions API (%s)', (mode) => {
  const env = useE2E(mode);
  let e: E2E;
  beforeAll(() => {
    e = env.e;
  });

  it('records a pty session as asciicast v2: download, audit chain, asciinema playback, access control', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const s = spawnSsh(sshArgs(e, key, w.device.name, ['-tt']));
    try {
      await s.waitForOutput(/\$ $/, 10_000);
      s.write('echo REC-$((6*7))-DONE\r');
      await s.waitForOutput(/REC-42-DONE/);
      // written as it goes: within about a second the live file already holds the output
      const live = await liveSession(w, grant.id);
      await new Promise((r) => setTimeout(r, 1100));
      const partial = await downloadRecording(w, live.id, w.auditor.token);
      expect(partial.status).toBe(200);
      expect(partial.sha256Header).toBeNull();
      expect(plain(partial.body)).toContain('REC-42-DONE');
      s.write('exit\r');
      await s.waitExit(5000);
    } finally {
      s.kill();
    }
    const [session] = await endedSessions(w, grant.id);
    const id = session!.id;

    const d = await downloadRecording(w, id, w.auditor.token);
    expect(d.status, d.body).toBe(200);
    expect(d.contentType).toMatch(/^application\/x-asciicast/);
    const [headerLine, ...eventLines] = d.body.trimEnd().split('\n');
    const header = JSON.parse(headerLine!);
    expect(header.version).toBe(2);
    expect(header.title).toContain(w.device.name);
    expect(header.title).toContain(w.tech.username);
    expect(header.title).toContain(grant.id);
    expect(Math.abs(header.timestamp - Date.parse(session!.startedAt) / 1000)).toBeLessThan(5);
    const output = eventLines.map((l) => JSON.parse(l)).filter((ev) => ev[1] === 'o').map((ev) => ev[2]).join('');
    expect(plain(output)).toMatch(/^REC-42-DONE$/m); // the command's output, not only its echo

    // the hash chained into the audit log is the hash of exactly these bytes
    const digest = sha256(d.body);
    expect(d.sha256Header).toBe(digest);
    const audit = await auditWhere(e, { subjectId: id });
    const actions = audit.map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['session.started', 'session.ended', 'recording.finalised', 'recording.accessed']));
    expect(actions.indexOf('session.started')).toBeLessThan(actions.indexOf('recording.finalised'));
    const finalised = audit.find((a) => a.action === 'recording.finalised')!;
    expect(finalised.details.sha256).toBe(digest);
    expect(finalised.details.sizeBytes).toBe(Buffer.byteLength(d.body));
    const accessed = audit.filter((a) => a.action === 'recording.accessed');
    expect(accessed.map((a) => a.actorId)).toContain(w.auditor.id);
    expect(audit.find((a) => a.action === 'session.started')!.details.device).toBe(w.device.name);
    const detail = await e.broker.api.ok('GET', `/api/sessions/${id}`, w.auditor.token);
    expect(detail.recording.sha256).toBe(digest);

    // played back by the real asciinema
    const file = path.join(e.dir, `${id}.cast`);
    await fs.writeFile(file, d.body);
    expect(plain(await asciinemaCat(file))).toContain('REC-42-DONE');

    // admins may read it too; the technician and the approver may not, and nothing is audited for them
    expect((await downloadRecording(w, id, w.admin.token)).status).toBe(200);
    const before = (await auditWhere(e, { subjectId: id, action: 'recording.accessed' })).length;
    for (const who of [w.tech, w.approver]) {
      const r = await downloadRecording(w, id, who.token);
      expect(r.status, `${who.username}: ${r.body}`).toBe(403);
      expect(r.body).not.toContain('REC-42');
    }
    expect((await auditWhere(e, { subjectId: id, action: 'recording.accessed' })).length).toBe(before);
  });

  it('sessions API: device, technician, grant, bytes, end reasons, filters and scope', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const api = e.broker.api;

    const r = await runSsh([...sshArgs(e, key, w.device.name), 'cat'], { input: 'twelve bytes' });
    expect(r.stdout).toBe('twelve bytes');
    // a technician whose ssh dies mid-session: the client closed it
    const s = spawnSsh([...sshArgs(e, key, w.device.name), 'echo READY; exec sleep 30']);
    try {
      await s.waitForOutput(/READY/, 10_000);
      const live: SessionJson = await liveSession(w, grant.id);
      expect(live.endedAt).toBeNull();
      s.kill();
    } finally {
      s.kill();
    }
    const sessions = await endedSessions(w, grant.id, 2);
    const cat = sessions.find((x) => x.command === 'cat')!;
    expect(cat).toMatchObject({ grantId: grant.id, deviceId: w.device.id, technicianId: w.tech.id, channel: 'exec', endReason: 'client_closed', bytesIn: 12, bytesOut: 12 });
    const killed = sessions.find((x) => x.id !== cat.id)!;
    expect(killed.endReason).toBe('client_closed');
    expect(killed.bytesOut).toBeGreaterThan(0);

    const ids = async (query: string, token = w.admin.token) =>
      ((await api.ok('GET', `/api/sessions?${query}`, token)).items as SessionJson[]).map((x) => x.id).sort();
    const both = [cat.id, killed.id].sort();
    expect(await ids(`deviceId=${w.device.id}`)).toEqual(both);
    expect(await ids(`technicianId=${w.tech.id}`)).toEqual(both);
    expect(await ids(`vendorId=${w.vendor.id}`)).toEqual(both);
    expect((await ids(`deviceId=${w.device.id}&endReason=client_closed`)).sort()).toEqual([killed.id, cat.id].sort());
    expect(await ids(`deviceId=${w.device.id}&endReason=device_closed`)).toEqual([]);
    expect(await ids(`deviceId=${w.device.id}&live=true`)).toEqual([]);
    expect(await ids(`deviceId=${w.device.id}&live=false`)).toEqual(both);
    const first = new Date(Math.min(...sessions.map((x) => Date.parse(x.startedAt))));
    expect(await ids(`deviceId=${w.device.id}&from=${encodeURIComponent(new Date(first.getTime() + 3_600_000).toISOString())}`)).toEqual([]);
    expect(await ids(`deviceId=${w.device.id}&to=${encodeURIComponent(first.toISOString())}`)).toEqual([]);
    expect((await api.call('GET', '/api/sessions?endReason=nonsense', w.admin.token)).status).toBe(400);

    // scope: the technician and the department's approver see them; another department's approver does not
    expect(await ids(`deviceId=${w.device.id}`, w.tech.token)).toEqual(both);
    expect(await ids(`deviceId=${w.device.id}`, w.approver.token)).toEqual(both);
    expect(await ids(`deviceId=${w.device.id}`, w.auditor.token)).toEqual(both);
    const stranger = await addUser(e.broker, ['approver'], { department: 'some-other-department' });
    expect(await ids(`deviceId=${w.device.id}`, stranger.token)).toEqual([]);
    const otherTech = await addUser(e.broker, ['technician'], { vendorId: w.vendor.id });
    expect(await ids(`deviceId=${w.device.id}`, otherTech.token)).toEqual([]);
  });
  it('proxy metrics count live sessions, bytes, refused authentications and cut-offs', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    const issued = await certify(w, grant, key);
    const url = e.proxyHttpUrl;
    const read = async () => ({
      failures: await metricValue(url, 'portcullis_proxy_auth_failures_total'),
      out: await metricValue(url, 'portcullis_proxy_bytes_total', 'direction="out"'),
      revoked: await metricValue(url, 'portcullis_proxy_cutoffs_total', 'reason="revoked"'),
    });
    const before = await read().catch((err) => {
      throw new Error(`the SSH proxy's metrics are not served at ${url}/metrics (${mode}): ${(err as Error).cause ?? err}`);
    });
    const r = await runSsh([...sshArgs(e, key, w.device.name), 'echo metrics-out']);
    expect(r.stdout).toBe('metrics-out\n');
    await presentRefused(e, w.device.name, issued, key);
    const s = spawnSsh([...sshArgs(e, key, w.device.name), 'echo READY; exec sleep 30']);
    try {
      await s.waitForOutput(/READY/, 10_000);
      await expect.poll(() => metricValue(url, 'portcullis_proxy_live_sessions')).toBeGreaterThanOrEqual(1);
      await e.broker.api.ok('POST', `/api/grants/${grant.id}/revoke`, w.approver.token, { reason: 'metrics' });
      await s.waitExit(5000);
    } finally {
      s.kill();
    }
    await endedSessions(w, grant.id, 2);
    await expect.poll(read).toMatchObject({ revoked: before.revoked + 1 });
    const after = await read();
    expect(after.out).toBeGreaterThanOrEqual(before.out + 'metrics-out\n'.length);
    expect(after.failures).toBeGreaterThan(before.failures);
  });
  it.runIf(mode !== 'single')('a proxy killed mid-session loses at most ~1 s of recording; restarted, it closes the session as error', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const s = spawnSsh(sshArgs(e, key, w.device.name, ['-tt']));
    try {
      await s.waitForOutput(/\$ $/, 10_000);
      s.write('echo CRASH-$((5*5))-MARK\r');
      await s.waitForOutput(/CRASH-25-MARK/);
      const live = await liveSession(w, grant.id);
      await new Promise((r) => setTimeout(r, 1200)); // the recorder flushes at least every second
      const t0 = performance.now();
      await e.crashAndRestartProxy!();
      console.log(`[${mode}] proxy crashed and restarted in ${(performance.now() - t0).toFixed(0)} ms`);
      await s.waitExit(5000);
      expect((await api(e).ok('GET', `/api/sessions/${live.id}`, w.admin.token)).id).toBe(live.id);
    } finally {
      s.kill();
    }
    const [session] = await endedSessions(w, grant.id, 1, 10_000);
    expect(session!.endReason).toBe('error');
    const d = await downloadRecording(w, session!.id, w.auditor.token);
    expect(d.status).toBe(200);
    const cast = parseCast(d.body);
    expect(plain(cast.events.filter((ev) => ev.code === 'o').map((ev) => ev.data).join(''))).toMatch(/^CRASH-25-MARK$/m);
    const finalised = await auditWhere(e, { subjectId: session!.id, action: 'recording.finalised' });
    expect(finalised.map((a) => a.details.sha256)).toEqual([sha256(d.body)]);
    const again = await runSsh([...sshArgs(e, key, w.device.name), 'echo AFTER-RESTART']);
    expect(again.stdout, again.stderr).toBe('AFTER-RESTART\n');
  }, 90_000);
});
