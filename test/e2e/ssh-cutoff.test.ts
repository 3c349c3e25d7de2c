/**
 * Issue 4, end to end: hard time bounds. A revoked grant's live session is cut within a second (also
 * across processes, over PostgreSQL LISTEN/NOTIFY or Redis), a grant ending mid-session is cut at
 * its end after a warning in the terminal, and one session can be terminated on its own.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  certify, endedSessions, grantFor, liveSession, makeWorld, newKey, recordingOf, runSsh, spawnSsh, sshArgs, useE2E,
  type E2E, type ModeName, type SessionJson,
} from '../support/ssh-e2e.js';

const modes: ModeName[] = ['single', 'split', 'split-redis'];
const wallClock = (perfAt: number) => performance.timeOrigin + perfAt;

describe.each(modes)('SSH cut-off at revocation and expiry (%s)', (mode) => {
  const env = useE2E(mode);
  let e: E2E;
  beforeAll(() => {
    e = env.e;
  });

  it('revoking the grant cuts its live session within a second, with a notice and a marker', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const s = spawnSsh([...sshArgs(e, key, w.device.name), 'echo READY; exec sleep 30']);
    try {
      await s.waitForOutput(/READY/, 10_000);
      await liveSession(w, grant.id);
      const sent = performance.now();
      await e.broker.api.ok('POST', `/api/grants/${grant.id}/revoke`, w.approver.token, { reason: 'vendor finished early' });
      const answered = performance.now();
      const exit = await s.waitExit(5000);
      const ms = exit.at - answered;
      console.log(`[${mode}] revocation cut: ${ms.toFixed(0)} ms after the revoke response (${(exit.at - sent).toFixed(0)} ms after the request), exit ${exit.code}`);
      expect(ms).toBeLessThan(1000);
      expect(s.output).toContain('access revoked: vendor finished early; disconnecting');
      expect(s.output).not.toMatch(/\bpermission denied\b/i);
    } finally {
      s.kill();
    }
    const [session] = await endedSessions(w, grant.id);
    expect(session!.endReason).toBe('revoked');
    const cast = await recordingOf(w, session!.id);
    const markers = cast.events.filter((ev) => ev.code === 'm').map((ev) => ev.data);
    expect(markers.some((m) => /revoked/.test(m)), JSON.stringify(markers)).toBe(true);
    expect(cast.text).toContain('access revoked: vendor finished early');
  });

  it('a grant ending mid-session is cut at its end, after a warning in the terminal', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w, 1);
    // the proxy reads the end when the technician connects: shorten the window first
    const { rows } = await e.broker.pool.query<{ ends_at: Date }>(
      `UPDATE grants SET ends_at = now() + interval '6 seconds' WHERE id = $1 RETURNING ends_at`, [grant.id]);
    const endsAt = rows[0]!.ends_at.getTime();
    const key = newKey(e);
    const cert = await certify(w, grant, key);
    expect(Math.abs(Date.parse((cert as unknown as { validBefore: string }).validBefore) - endsAt)).toBeLessThan(1000);
    const s = spawnSsh(sshArgs(e, key, w.device.name, ['-tt']));
    try {
      await s.waitForOutput(/\$ $/, 10_000);
      await s.waitForOutput(/access to this device ends in 3 seconds/, 8000);
      const warnedAt = Date.now();
      expect(warnedAt).toBeLessThan(endsAt);
      expect(s.running).toBe(true);
      const exit = await s.waitExit(10_000);
      const late = wallClock(exit.at) - endsAt;
      console.log(`[${mode}] expiry cut: ${late.toFixed(0)} ms after ends_at (warning ${endsAt - warnedAt} ms before)`);
      expect(late).toBeGreaterThan(-100);
      expect(late).toBeLessThan(1000);
      expect(s.output).toContain('the approved access window has ended; disconnecting');
    } finally {
      s.kill();
    }
    const [session] = await endedSessions(w, grant.id);
    expect(session!.endReason).toBe('expired');
    const cast = await recordingOf(w, session!.id);
    const markers = cast.events.filter((ev) => ev.code === 'm').map((ev) => ev.data);
    expect(markers.some((m) => /warning/.test(m)), JSON.stringify(markers)).toBe(true);
    expect(markers).toContain('expired');
    const warning = cast.events.findIndex((ev) => ev.code === 'm' && /warning/.test(ev.data));
    expect(warning).toBeLessThan(cast.events.findIndex((ev) => ev.code === 'm' && ev.data === 'expired'));
  });

  it('POST /api/sessions/:id/terminate cuts that session only', async () => {
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const api = e.broker.api;
    const a = spawnSsh(sshArgs(e, key, w.device.name, ['-tt']));
    const b = spawnSsh([...sshArgs(e, key, w.device.name), 'echo READY-B; exec sleep 30']);
    try {
      await Promise.all([a.waitForOutput(/\$ $/, 10_000), b.waitForOutput(/READY-B/, 10_000)]);
      let live: SessionJson[] = [];
      await expect.poll(async () => (live = (await api.ok('GET', `/api/sessions?grantId=${grant.id}&live=true`, w.admin.token)).items).length).toBe(2);
      const shell = live.find((x) => x.channel === 'shell')!;

      expect((await api.call('POST', `/api/sessions/${shell.id}/terminate`, w.tech.token, { reason: 'x' })).status).toBeGreaterThanOrEqual(403);
      await api.ok('POST', `/api/sessions/${shell.id}/terminate`, w.approver.token, { reason: 'wrong patient' });
      const answered = performance.now();
      const exit = await a.waitExit(5000);
      console.log(`[${mode}] terminate cut: ${(exit.at - answered).toFixed(0)} ms after the response`);
      expect(exit.at - answered).toBeLessThan(1000);
      expect(a.output).toMatch(/session terminated by .*: wrong patient; disconnecting/);

      // the other session of the same grant goes on
      await new Promise((r) => setTimeout(r, 300));
      expect(b.running).toBe(true);
      expect((await api.ok('GET', `/api/grants/${grant.id}`, w.approver.token)).status).toBe('active');
      await expect.poll(async () => ((await api.ok('GET', `/api/sessions?grantId=${grant.id}&live=true`, w.admin.token)).items as SessionJson[])
        .map((x) => x.channel)).toEqual(['exec']);
      expect((await api.call('POST', `/api/sessions/${shell.id}/terminate`, w.approver.token, { reason: 'again' })).status).toBe(409);
      b.kill();
    } finally {
      a.kill();
      b.kill();
    }
    const ended = await endedSessions(w, grant.id, 2);
    expect(ended.find((x) => x.channel === 'shell')!.endReason).toBe('revoked');
    expect(ended.find((x) => x.channel === 'exec')!.endReason).toBe('client_closed');
  });
  it('suspending the device and disabling the technician each cut live sessions within a second', async () => {
    for (const action of ['suspend', 'disable'] as const) {
      const w = await makeWorld(e);
      const grant = await grantFor(w);
      const key = newKey(e);
      await certify(w, grant, key);
      const s = spawnSsh([...sshArgs(e, key, w.device.name), 'echo READY; exec sleep 30']);
      try {
        await s.waitForOutput(/READY/, 10_000);
        await liveSession(w, grant.id);
        if (action === 'suspend') {
          await e.broker.api.ok('POST', `/api/devices/${w.device.id}/lifecycle`, w.admin.token, { state: 'suspended', reason: 'recall' });
        } else {
          await e.broker.api.ok('PATCH', `/api/users/${w.tech.id}`, w.admin.token, { disabled: true });
        }
        const answered = performance.now();
        const exit = await s.waitExit(5000);
        console.log(`[${mode}] ${action} cut: ${(exit.at - answered).toFixed(0)} ms after the response`);
        expect(exit.at - answered).toBeLessThan(1000);
      } finally {
        s.kill();
      }
      const [session] = await endedSessions(w, grant.id);
      expect(session!.endReason).toBe('revoked');
      const again = await runSsh([...sshArgs(e, key, w.device.name), 'echo SHOULD-NOT-RUN']);
      expect(again.stderr).toContain('Permission denied');
    }
  });
});
