/**
 * Step-up before deciding (§8.5): an approver's MFA proof must be younger than STEP_UP_SECONDS, or come
 * with the decision; a passkey proof is bound to the request it was made for. The decision's audit event
 * names the method and the credential.
 */
import { describe, expect, it } from 'vitest';
import { makeUser } from '../support/harness.js';
import { expectError } from '../support/fixtures.js';
import { enrolPasskey, enrolTotp, loginWithMfa } from '../support/mfa-helpers.js';
import { as, auditOf, isolatedHarness, person, requestAccess, world, type World } from '../support/workflow-fixtures.js';

const ref = isolatedHarness();

async function approverOf(w: World) {
  const h = ref.h;
  return makeUser(h, ['approver'], { department: w.device.policy.approverDepartment });
}

/** a second technician of the world's vendor: one pending request per technician and device */
const otherTech = (w: World) => person(ref.h, ['technician'], { vendorId: w.vendor.id });

const decidedBy = async (requestId: string) =>
  (await auditOf(ref.h, requestId)).filter((e) => e.action === 'request.approved_by' || e.action === 'request.denied_by');

describe('step-up for approve and deny', () => {
  it('a recent MFA sign-in decides; a stale one must prove again, and the audit event says how', async () => {
    const h = ref.h;
    const w = await world(h, { approvers: 0 });
    const u = await approverOf(w);
    const { app } = await enrolTotp(h, u.auth);
    const signedIn = await loginWithMfa(h, u.user.username, u.password, () => ({ code: app.code() }));
    expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(200);
    const auth = { Authorization: `Bearer ${signedIn.body.token}` };

    const a = await requestAccess(h, w.tech, w.device.id);
    await h.http.post(`/api/access-requests/${a.id}/approve`).set(auth).send({ comment: 'fresh' }).expect(200);
    expect((await decidedBy(a.id))[0]!.details.stepUp).toEqual({ method: 'totp', credentialId: null, via: 'session' });

    const b = await requestAccess(h, await otherTech(w), w.device.id);
    h.clock.advance(301_000);
    for (const verb of ['approve', 'deny']) {
      const refused = expectError(await h.http.post(`/api/access-requests/${b.id}/${verb}`).set(auth).send({}), 403, 'forbidden');
      expect(refused.details).toEqual({ stepUpRequired: true, methods: ['totp', 'recovery'] });
    }
    expect(await decidedBy(b.id)).toEqual([]);
    expectError(await h.http.post(`/api/access-requests/${b.id}/approve`).set(auth).send({ stepUp: { code: app.code(3) } }), 403);
    await h.http.post(`/api/access-requests/${b.id}/deny`).set(auth).send({ comment: 'no', stepUp: { code: app.code() } }).expect(200);
    expect((await decidedBy(b.id))[0]!.details.stepUp).toEqual({ method: 'totp', credentialId: null, via: 'proof' });
  });

  it('an approver with no second factor whose role does not require one decides as before', async () => {
    const h = ref.h;
    const w = await world(h, { approvers: 1 });
    const a = await requestAccess(h, w.tech, w.device.id);
    expect((await as(h, w.approvers[0]!).post(`/api/access-requests/${a.id}/approve`, {})).status).toBe(200);
    expect((await decidedBy(a.id))[0]!.details.stepUp).toBeNull();
  });

  it('a passkey proof made for request A cannot approve request B; made for A, it approves A', async () => {
    const h = ref.h;
    const w = await world(h, { approvers: 0 });
    const u = await approverOf(w);
    const { authenticator, passkey } = await enrolPasskey(h, u.auth);
    const a = await requestAccess(h, w.tech, w.device.id);
    const b = await requestAccess(h, await otherTech(w), w.device.id);

    const forA = await h.http.post(`/api/access-requests/${a.id}/step-up/options`).set(u.auth).send({}).expect(200);
    expect(forA.body.allowCredentials).toEqual([expect.objectContaining({ id: passkey.id })]);
    const proofForA = authenticator.get(forA.body);
    const refused = expectError(await h.http.post(`/api/access-requests/${b.id}/approve`).set(u.auth).send({ stepUp: { webauthn: proofForA } }), 403, 'forbidden');
    expect(refused.details).toMatchObject({ stepUpRequired: true });
    expect(await decidedBy(b.id)).toEqual([]);
    const failed = (await auditOf(h, u.user.id)).filter((e) => e.action === 'auth.mfa_failed');
    expect(failed.at(-1)!.details.reason).toMatch(/challenge/i);
    // the challenge was spent by that attempt: the same proof no longer approves A either
    expectError(await h.http.post(`/api/access-requests/${a.id}/approve`).set(u.auth).send({ stepUp: { webauthn: proofForA } }), 403);

    const again = await h.http.post(`/api/access-requests/${a.id}/step-up/options`).set(u.auth).send({}).expect(200);
    expect(again.body.challenge).not.toBe(forA.body.challenge);
    await h.http.post(`/api/access-requests/${a.id}/approve`).set(u.auth).send({ stepUp: { webauthn: authenticator.get(again.body) } }).expect(200);
    expect((await decidedBy(a.id))[0]!.details.stepUp).toEqual({ method: 'webauthn', credentialId: passkey.id, via: 'proof' });
  });

  it('step-up options need an eligible approver with a passkey and a pending request', async () => {
    const h = ref.h;
    const w = await world(h, { approvers: 0 });
    const u = await approverOf(w);
    const a = await requestAccess(h, w.tech, w.device.id);
    expectError(await h.http.post(`/api/access-requests/${a.id}/step-up/options`).set(u.auth).send({}), 400, 'invalid');
    expectError(await h.http.post('/api/access-requests/00000000-0000-4000-8000-000000000000/step-up/options').set(u.auth).send({}), 404);
    // only the request's eligible approvers get a challenge for it
    const elsewhere = await makeUser(h, ['approver'], { department: 'another-department' });
    await enrolPasskey(h, elsewhere.auth);
    expectError(await h.http.post(`/api/access-requests/${a.id}/step-up/options`).set(elsewhere.auth).send({}), 403, 'forbidden');
    expectError(await as(h, w.tech).post(`/api/access-requests/${a.id}/step-up/options`, {}), 403, 'forbidden');
  });
  it('an SSO approver whose identity provider did MFA decides on that sign-in while it is recent, without a local factor', async () => {
    const h = ref.h;
    h.deps.mfa.requiredRoles = ['approver'];
    try {
      const w = await world(h, { approvers: 0 });
      const u = await approverOf(w);
      const state = (await h.deps.store.read.users.authState(u.user.id))!;
      const { token } = await h.deps.tokens.issueSessionToken(u.user.id, state.tokenGeneration, { method: 'oidc', credentialId: null, at: h.clock.now() });
      const auth = { Authorization: `Bearer ${token}` };
      const a = await requestAccess(h, w.tech, w.device.id);
      await h.http.post(`/api/access-requests/${a.id}/approve`).set(auth).send({}).expect(200);
      expect((await decidedBy(a.id))[0]!.details.stepUp).toEqual({ method: 'oidc', credentialId: null, via: 'session' });
      // stale: without a local factor there is nothing to prove it with but signing in again
      const b = await requestAccess(h, await otherTech(w), w.device.id);
      h.clock.advance(301_000);
      const refused = expectError(await h.http.post(`/api/access-requests/${b.id}/approve`).set(auth).send({}), 403, 'forbidden');
      expect(refused.details).toMatchObject({ stepUpRequired: true });
    } finally {
      h.deps.mfa.requiredRoles = [];
    }
  });
});
