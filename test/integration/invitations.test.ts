/**
 * Vendor onboarding by invitation (§8.5): an admin invites, the technician sets a password through the
 * single-use link and can log in; a used, withdrawn or expired link is refused; the account expires at
 * its end (default the vendor's contract end, never later): login and tokens are refused and its active
 * grant ends through the scheduled job.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { unique } from '../support/harness.js';
import { HOUR, MIN, T0, auditOf, grantFor, isolatedHarness, plus, runAt, world, type Person } from '../support/workflow-fixtures.js';

const ref = isolatedHarness();
const PASSWORD = 'invited-technician-password';

async function invite(admin: Person, vendorId: string, extra: Record<string, unknown> = {}) {
  const { h } = ref;
  const res = await h.http.post('/api/invitations').set(await admin.auth())
    .send({ username: unique('tech').toLowerCase(), displayName: 'Invited Technician', vendorId, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const body = res.body as { invitation: { id: string; username: string; accountExpiresAt: string; expiresAt: string }; url: string };
  return { ...body, token: body.url.split('/invite/')[1]! };
}

describe('invitations', () => {
  it('an admin invites, the technician sets a password through the link once, and can then log in', async () => {
    const { h } = ref;
    const w = await world(h, { approvers: 1 });
    const inv = await invite(w.admin, w.vendor.id);
    expect(inv.url).toMatch(/^http:\/\/127\.0\.0\.1\/invite\/[A-Za-z0-9_-]{43}$/);
    // the account ends with the vendor's contract, the link after 72 hours
    expect(inv.invitation.accountExpiresAt).toBe('2099-12-31T23:59:59.999Z');
    expect(inv.invitation.expiresAt).toBe(plus(72 * HOUR).toISOString());
    // only the token's hash is stored
    const { rows } = await h.pool.query('SELECT token_hash FROM invitations WHERE id = $1', [inv.invitation.id]);
    expect(rows[0].token_hash).toBe(createHash('sha256').update(inv.token).digest('hex'));
    expect(JSON.stringify(await auditOf(h, inv.invitation.id))).not.toContain(inv.token);

    const listed = await h.http.get('/api/invitations').set(await w.admin.auth());
    expect(listed.body.items.map((i: { id: string }) => i.id)).toContain(inv.invitation.id);
    expect(JSON.stringify(listed.body)).not.toContain(inv.token);
    expect((await h.http.get('/api/invitations').set(await w.approvers[0]!.auth())).status).toBe(403);

    const view = await h.http.get(`/api/invitations/accept/${inv.token}`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ username: inv.invitation.username, roles: ['technician'], vendor: { id: w.vendor.id, name: w.vendor.name } });

    const accepted = await h.http.post('/api/invitations/accept').send({ token: inv.token, password: PASSWORD });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body.user).toMatchObject({ username: inv.invitation.username, roles: ['technician'], vendorId: w.vendor.id,
      expiresAt: '2099-12-31T23:59:59.999Z', passwordChangeRequired: false });
    expect(String(accepted.headers['set-cookie'])).toContain('portcullis_session=');
    expect((await h.http.get('/api/me').set({ Authorization: `Bearer ${accepted.body.token}` })).status).toBe(200);

    const login = await h.http.post('/api/auth/login').send({ username: inv.invitation.username, password: PASSWORD });
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    expect(login.body.token).toEqual(expect.any(String));

    // single use: the link is spent, and the list no longer shows it
    const again = await h.http.post('/api/invitations/accept').send({ token: inv.token, password: 'another-password-entirely' });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already been used/);
    expect((await h.http.get(`/api/invitations/accept/${inv.token}`)).status).toBe(409);
    const after = await h.http.get('/api/invitations').set(await w.admin.auth());
    expect(after.body.items.map((i: { id: string }) => i.id)).not.toContain(inv.invitation.id);

    const actions = (await auditOf(h, inv.invitation.id)).map((e) => e.action);
    expect(actions).toEqual(['invitation.created', 'invitation.accepted', 'invitation.refused']);
    expect((await auditOf(h, accepted.body.user.id)).map((e) => e.action)).toEqual(expect.arrayContaining(['user.created', 'auth.login']));
  });

  it('a technician whose role needs a second factor is signed in only to set one up', async () => {
    const { h } = ref;
    const w = await world(h, { approvers: 0 });
    const inv = await invite(w.admin, w.vendor.id);
    h.deps.mfa.requiredRoles.push('technician');
    try {
      const accepted = await h.http.post('/api/invitations/accept').send({ token: inv.token, password: PASSWORD });
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
      expect(accepted.body.user.mfaEnrolmentRequired).toBe(true);
      const bearer = { Authorization: `Bearer ${accepted.body.token}` };
      expect((await h.http.get('/api/me').set(bearer)).status).toBe(200);
      const elsewhere = await h.http.get('/api/devices').set(bearer);
      expect(elsewhere.status).toBe(403);
      expect(elsewhere.body.error.details).toMatchObject({ mfaEnrolmentRequired: true });
    } finally {
      h.deps.mfa.requiredRoles.splice(0);
    }
  });

  it('an expired or withdrawn link is refused and creates nothing', async () => {
    const { h } = ref;
    const w = await world(h, { approvers: 0 });
    const late = await invite(w.admin, w.vendor.id);
    h.clock.set(plus(72 * HOUR + MIN));
    const expired = await h.http.post('/api/invitations/accept').send({ token: late.token, password: PASSWORD });
    expect(expired.status).toBe(409);
    expect(expired.body.error.message).toMatch(/expired/);

    h.clock.set(T0);
    const withdrawn = await invite(w.admin, w.vendor.id);
    expect((await h.http.delete(`/api/invitations/${withdrawn.invitation.id}`).set(await w.admin.auth())).status).toBe(200);
    const refused = await h.http.post('/api/invitations/accept').send({ token: withdrawn.token, password: PASSWORD });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/withdrawn/);
    expect((await h.http.post('/api/invitations/accept').send({ token: 'A'.repeat(43), password: PASSWORD })).status).toBe(404);

    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM users WHERE username = ANY($1)', [[late.invitation.username, withdrawn.invitation.username]]);
    expect(rows[0].n).toBe(0);
    expect((await auditOf(h, withdrawn.invitation.id)).map((e) => e.action)).toEqual(['invitation.created', 'invitation.revoked', 'invitation.refused']);
  });

  it('an account may not outlast the vendor\'s contract', async () => {
    const { h } = ref;
    const w = await world(h, { approvers: 0, vendor: { contractEnd: '2031-06-30' } });
    const res = await h.http.post('/api/invitations').set(await w.admin.auth())
      .send({ username: unique('tech').toLowerCase(), displayName: 'Too Long', vendorId: w.vendor.id, expiresAt: '2031-07-01T00:00:00Z' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/cannot outlast/);
    const ok = await invite(w.admin, w.vendor.id);
    expect(ok.invitation.accountExpiresAt).toBe('2031-06-30T23:59:59.999Z');
  });

  it('an expired account cannot log in or use its token, and its active grant ends at the account\'s end', async () => {
    const { h } = ref;
    const w = await world(h, { approvers: 1 });
    const end = plus(10 * MIN);
    const inv = await invite(w.admin, w.vendor.id, { expiresAt: end.toISOString() });
    // a link never outlives the account it offers
    expect(inv.invitation.expiresAt).toBe(end.toISOString());
    const accepted = await h.http.post('/api/invitations/accept').send({ token: inv.token, password: PASSWORD });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    const user = accepted.body.user;
    expect(h.scheduler.for(user.id).map((j) => j.kind)).toEqual(['user.expire']);
    const tech: Person = { user, auth: async () => ({ Authorization: `Bearer ${(await h.deps.tokens.issueSessionToken(user.id)).token}` }) };
    const grant = await grantFor(h, { ...w, tech });
    expect(grant.status).toBe('active');
    const token = accepted.body.token as string;

    // at the account's end the token stops working even before the job has run
    h.clock.set(end);
    expect((await h.http.get('/api/me').set({ Authorization: `Bearer ${token}` })).status).toBe(401);
    const login = await h.http.post('/api/auth/login').send({ username: user.username, password: PASSWORD });
    expect(login.status).toBe(401);
    expect(login.body.error.message).toMatch(/expired/);

    await runAt(h, end);
    const { rows } = await h.pool.query('SELECT status, end_reason FROM grants WHERE id = $1', [grant.id]);
    expect(rows[0]).toEqual({ status: 'revoked', end_reason: 'account expired' });
    expect(h.bus.published).toContainEqual(expect.objectContaining({ type: 'grant.ended', grantIds: [grant.id] }));
    const audit = await auditOf(h, user.id, grant.id);
    expect(audit.filter((e) => e.action === 'user.expired')).toHaveLength(1);
    expect(audit.find((e) => e.action === 'auth.login_failed')?.details).toMatchObject({ reason: 'account expired' });
    expect(audit.find((e) => e.action === 'grant.revoked')?.details).toMatchObject({ reason: 'account expired' });
    // a second run (reconciliation, a retried job) changes nothing
    await runAt(h, plus(MIN, end));
    expect((await auditOf(h, user.id)).filter((e) => e.action === 'user.expired')).toHaveLength(1);
  });
});
