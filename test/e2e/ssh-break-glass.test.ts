/**
 * Break-glass end to end with the real OpenSSH client and sshd: emergency access opened through the
 * API connects at once with a certificate that carries the emergency mark, the recording's title says
 * EMERGENCY, the grant's audit trail names it, and an approver's review closes it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { certify, endedSessions, makeWorld, newKey, recordingOf, sshArgs, useE2E } from '../support/ssh-e2e.js';

const run = promisify(execFile);

describe('break-glass through the SSH proxy', () => {
  const env = useE2E('single');

  it('connects at once, the certificate and the recording are marked emergency, and the approver reviews it', async () => {
    const { e } = env;
    const w = await makeWorld(e, { policy: { breakGlass: true, breakGlassMaxMinutes: 15 } });
    const api = e.broker.api;
    const grant = await api.ok('POST', '/api/break-glass', w.tech.token, { deviceId: w.device.id, reason: 'infusion pump stuck in alarm', durationMinutes: 10 });
    expect(grant).toMatchObject({ status: 'active', emergency: true });

    const key = newKey(e);
    await certify(w, grant, key);
    const listing = await run('ssh-keygen', ['-L', '-f', key.certPath]);
    expect(listing.stdout).toContain('break-glass@portcullis');
    const out = await run('ssh', sshArgs(e, key, w.device.name).concat('echo emergency-reached'));
    expect(out.stdout).toContain('emergency-reached');

    const [session] = await endedSessions(w, grant.id);
    const cast = await recordingOf(w, session!.id);
    expect(cast.header.title).toMatch(/^EMERGENCY \(break-glass\) — /);

    const review = await api.call('POST', `/api/grants/${grant.id}/review`, w.approver.token, { outcome: 'justified', comment: 'alarm confirmed' });
    expect(review.status, JSON.stringify(review.body)).toBe(200);
    const audit = await api.ok('GET', `/api/audit?subjectId=${grant.id}`, w.admin.token);
    const actions = (audit.items as { action: string }[]).map((x) => x.action);
    expect(actions).toEqual(expect.arrayContaining(['grant.break_glass', 'credential.issued', 'grant.reviewed']));
  }, 60_000);
});
