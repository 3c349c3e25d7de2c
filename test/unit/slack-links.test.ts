/** Approval link tokens: bound claims, ~30 minute validity on the injected clock, tamper and misuse refused. */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTokenIssuer } from '../../server/crypto/tokens.js';
import { createLinkTokens } from '../../server/notify/slack-links.js';

const keys = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { signing: privateKey, verifying: publicKey };
})();
class Clock {
  constructor(public t = new Date('2026-03-01T10:00:00Z')) {}
  now = () => new Date(this.t);
}
const MIN = 60_000;
const binding = () => ({ requestId: randomUUID(), approverId: randomUUID(), action: 'approve' as const });

describe('approval link tokens', () => {
  it('carry exactly one request, one approver and one action, for 30 minutes', async () => {
    const clock = new Clock();
    const links = createLinkTokens(keys, clock);
    const b = binding();
    const { token, claims } = await links.mint(b);
    expect(claims).toMatchObject(b);
    expect(claims.expiresAt.getTime() - clock.t.getTime()).toBe(30 * MIN);
    expect(await links.verify(token)).toEqual({ ok: true, claims });
    const other = await links.mint(b);
    expect(other.claims.jti).not.toBe(claims.jti);
  });

  it('expire on the injected clock, and still say whose link it was', async () => {
    const clock = new Clock();
    const links = createLinkTokens(keys, clock);
    const { token, claims } = await links.mint(binding());
    clock.t = new Date(clock.t.getTime() + 29 * MIN);
    expect((await links.verify(token)).ok).toBe(true);
    clock.t = new Date(clock.t.getTime() + 2 * MIN);
    expect(await links.verify(token)).toEqual({ ok: false, reason: 'expired', claims });
  });

  it('refuse a changed payload, a changed signature, another key and garbage', async () => {
    const clock = new Clock();
    const links = createLinkTokens(keys, clock);
    const { token } = await links.mint(binding());
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, act: 'deny' })).toString('base64url');
    expect(await links.verify(`${h}.${forged}.${s}`)).toEqual({ ok: false, reason: 'invalid' });
    const flip = s[5] === 'A' ? 'B' : 'A';
    expect(await links.verify(`${h}.${p}.${s.slice(0, 5)}${flip}${s.slice(6)}`)).toEqual({ ok: false, reason: 'invalid' });
    const strangers = createLinkTokens((() => {
      const k = generateKeyPairSync('ed25519');
      return { signing: k.privateKey, verifying: k.publicKey };
    })(), clock);
    expect(await strangers.verify(token)).toEqual({ ok: false, reason: 'invalid' });
    for (const junk of ['', 'abc', 'a.b.c', `${token}x`, 'x'.repeat(5000)]) expect((await links.verify(junk)).ok).toBe(false);
  });

  it('are not session tokens, and session tokens are not links', async () => {
    const clock = new Clock();
    const links = createLinkTokens(keys, clock);
    const sessions = createTokenIssuer(keys, 60, clock);
    const { token } = await links.mint(binding());
    await expect(sessions.verifySessionToken(token)).rejects.toThrow();
    const session = await sessions.issueSessionToken(randomUUID());
    expect(await links.verify(session.token)).toEqual({ ok: false, reason: 'invalid' });
    // right audience and key but missing bindings: still not a link
    const bare = await new SignJWT({ typ: 'slack-link' }).setProtectedHeader({ alg: 'EdDSA' }).setIssuer('portcullis')
      .setAudience('portcullis-slack-link').setSubject(randomUUID()).setJti(randomUUID()).setExpirationTime('10m').sign(keys.signing);
    expect(await links.verify(bare)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('give each link its own CSRF value, checked in constant time', async () => {
    const links = createLinkTokens(keys, new Clock());
    const a = randomUUID();
    const b = randomUUID();
    expect(links.checkCsrf(a, links.csrfFor(a))).toBe(true);
    expect(links.checkCsrf(a, links.csrfFor(b))).toBe(false);
    expect(links.checkCsrf(a, undefined)).toBe(false);
    expect(links.checkCsrf(a, '')).toBe(false);
    // another broker key gives other values
    const k = generateKeyPairSync('ed25519');
    expect(createLinkTokens({ signing: k.privateKey, verifying: k.publicKey }, new Clock()).csrfFor(a)).not.toBe(links.csrfFor(a));
  });
});
