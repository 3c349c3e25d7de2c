/** The pure parts of second factors: TOTP steps at a fixed time, recovery code hashing, the step-up challenge, the settings. */
import { describe, expect, it } from 'vitest';
import { Secret, TOTP } from 'otpauth';
import { loadConfig } from '../../server/config.js';
import { newRecoveryCodes, newTotpSecret, recoveryCodeHash, totpFor, totpStep } from '../../server/core/mfa-factors.js';
import { requestChallenge } from '../../server/core/step-up.js';
import type { AccessRequest } from '../../server/core/types.js';
import { FakeClock } from '../support/harness.js';

describe('TOTP steps', () => {
  const clock = new FakeClock(new Date('2031-03-03T09:00:10Z'));
  const secret = newTotpSecret();
  const app = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });
  const code = (steps: number) => app.generate({ timestamp: clock.now().getTime() + steps * 30_000 });
  const ours = totpFor({ username: 'someone' }, secret, 'Portcullis');
  const now = Math.floor(clock.now().getTime() / 30_000);

  it('names the step of a code within one step either side, and nothing further', () => {
    expect(totpStep(ours, code(0), clock.now())).toBe(now);
    expect(totpStep(ours, code(-1), clock.now())).toBe(now - 1);
    expect(totpStep(ours, ` ${code(1).slice(0, 3)} ${code(1).slice(3)} `, clock.now())).toBe(now + 1);
    expect(totpStep(ours, code(2), clock.now())).toBeNull();
    expect(totpStep(ours, code(-2), clock.now())).toBeNull();
    expect(totpStep(ours, 'abcdef', clock.now())).toBeNull();
    expect(totpStep(ours, `${code(0)}0`, clock.now())).toBeNull();
  });

  it('speaks the otpauth URL authenticator apps read', () => {
    expect(ours.toString()).toMatch(/^otpauth:\/\/totp\/Portcullis:someone\?.*secret=[A-Z2-7]+/);
    expect(ours.toString()).toMatch(/digits=6/);
    expect(ours.toString()).toMatch(/period=30/);
  });
});

describe('recovery codes', () => {
  it('are ten distinct high-entropy codes, hashed per user, typed in any case with or without dashes', () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    const c = codes[0]!;
    expect(recoveryCodeHash('u1', c.toUpperCase().replace(/-/g, ''))).toBe(recoveryCodeHash('u1', c));
    expect(recoveryCodeHash('u2', c)).not.toBe(recoveryCodeHash('u1', c));
    expect(recoveryCodeHash('u1', c)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the step-up challenge', () => {
  const req: AccessRequest = {
    id: 'r1', kind: 'access', technicianId: 't1', deviceId: 'd1', extendsGrantId: null, reason: 'fix', ticketRef: 'CHG-1',
    startsAt: new Date('2031-03-03T09:00:00Z'), startsOnApproval: false, durationMinutes: 30, approvalsRequired: 1, status: 'pending',
    artifacts: [], expiresAt: new Date('2031-03-04T09:00:00Z'), closedAt: null, createdAt: new Date('2031-03-03T08:00:00Z'),
  };

  it('changes with the request\'s content and with the nonce', () => {
    const base = requestChallenge(req, 'nonce-1');
    expect(requestChallenge({ ...req }, 'nonce-1')).toBe(base);
    expect(requestChallenge(req, 'nonce-2')).not.toBe(base);
    const changes: Partial<AccessRequest>[] = [
      { id: 'r2' }, { deviceId: 'd2' }, { technicianId: 't2' }, { durationMinutes: 31 },
      { startsAt: new Date('2031-03-03T09:01:00Z') }, { artifacts: [{ name: 'fw.bin', sha256: 'a'.repeat(64) }] },
    ];
    for (const c of changes) expect(requestChallenge({ ...req, ...c }, 'nonce-1'), JSON.stringify(c)).not.toBe(base);
    expect(Buffer.from(base, 'base64url')).toHaveLength(32);
  });
});

describe('MFA settings', () => {
  const env = { DATABASE_URL: 'postgres://portcullis@127.0.0.1/x', PUBLIC_URL: 'https://access.hospital.example:8443/' };
  it('default to technicians, approvers and admins, 300 s, and PUBLIC_URL\'s host and origin', () => {
    expect(loadConfig(env).mfa).toEqual({ requiredRoles: ['technician', 'approver', 'admin'], stepUpSeconds: 300,
      rpId: 'access.hospital.example', rpName: 'Portcullis', origin: 'https://access.hospital.example:8443' });
  });
  it('an empty MFA_REQUIRED_ROLES requires nobody; an unknown role is refused', () => {
    expect(loadConfig({ ...env, MFA_REQUIRED_ROLES: '' }).mfa.requiredRoles).toEqual([]);
    expect(loadConfig({ ...env, MFA_REQUIRED_ROLES: ' admin , admin' }).mfa.requiredRoles).toEqual(['admin']);
    expect(() => loadConfig({ ...env, MFA_REQUIRED_ROLES: 'admin,root' })).toThrow(/MFA_REQUIRED_ROLES/);
  });
});
