/**
 * A Slack approval link decides only for the approver it was issued to, signed in on its page, with a
 * fresh MFA proof (SPEC §8.5). Real database, the real app: a forwarded link — nobody signed in,
 * another approver signed in, the requester signed in — shows the request read-only, decides nothing,
 * leaves the link usable and is audited; the named approver decides once and the decision's audit event
 * names the channel, the step-up method and how they signed in.
 */
import supertest from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app.js';
import { slackRoutes } from '../../server/http/routes/slack.js';
import { createLinkTokens, type LinkTokens } from '../../server/notify/slack-links.js';
import { startHarness, type Harness } from '../support/harness.js';
import { approverSession, enrolTotp, insertLink, setPassword } from '../support/slack-link-fixtures.js';
import { MIN, person, requestAccess, world, type Person, type World } from '../support/workflow-fixtures.js';

let h: Harness;
let links: LinkTokens;
let http: ReturnType<typeof supertest>;

beforeAll(async () => {
  h = await startHarness();
  links = createLinkTokens({ signing: h.keys.tokenSigning, verifying: h.keys.tokenVerifying }, h.clock);
  http = supertest(createApp(h.deps, slackRoutes({ core: h.deps, publicUrl: 'https://portcullis.example', links })));
});
afterAll(async () => h?.close());
beforeEach(() => h.clock.set(new Date()));

const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1];

/** Opens the link like a browser coming from Slack (no cookie), then posts the page's own form. */
async function submit(token: string, form: Record<string, string> = {}, cookie?: { Cookie: string }) {
  const page = await http.get(`/slack/decide?t=${encodeURIComponent(token)}`);
  expect(page.status, page.text).toBe(200);
  return http.post('/slack/decide').set({ 'Sec-Fetch-Site': 'same-origin', ...cookie }).type('form')
    .send({ t: token, csrf: csrfOf(page.text)!, ...form });
}

/** A console session of `p`; `mfaAgo` (ms): it carries an MFA proof made that long ago. */
async function session(p: Person, mfaAgo?: number) {
  const mfa = mfaAgo === undefined ? null : { method: 'totp' as const, credentialId: null, at: new Date(h.clock.now().getTime() - mfaAgo) };
  return approverSession(h, p, (await h.deps.tokens.issueSessionToken(p.user.id, 0, mfa)).token);
}

async function state(requestId: string) {
  const q = async (sql: string) => (await h.pool.query(sql, [requestId])).rows[0];
  return {
    status: (await q('SELECT status FROM access_requests WHERE id = $1')).status as string,
    decisions: (await q('SELECT count(*)::int AS n FROM decisions WHERE request_id = $1')).n as number,
    usedLinks: (await q('SELECT count(*)::int AS n FROM approval_links WHERE request_id = $1 AND used_at IS NOT NULL')).n as number,
  };
}
const pristine = { status: 'pending', decisions: 0, usedLinks: 0 };

async function refusals(requestId: string) {
  const { rows } = await h.pool.query(
    "SELECT details FROM audit_events WHERE action = 'slack.link_refused' AND subject_id = $1 ORDER BY seq", [requestId]);
  return rows.map((r) => r.details as { reason: string; signedInUserId?: string });
}

async function decisionAudit(requestId: string) {
  const { rows } = await h.pool.query(
    "SELECT actor_id, details FROM audit_events WHERE action IN ('request.approved_by', 'request.denied_by') AND subject_id = $1", [requestId]);
  return rows as { actor_id: string; details: Record<string, unknown> }[];
}

async function pending(): Promise<{ w: World; requestId: string; named: Person }> {
  const w = await world(h, { approvers: 2, device: { policy: { approvalsRequired: 1 } } });
  const req = await requestAccess(h, w.tech, w.device.id);
  return { w, requestId: req.id, named: w.approvers[0]! };
}

describe('a link decides only for its approver, signed in on the page', () => {
  it('regression: the page\'s own form post without a sign-in no longer decides', async () => {
    const { requestId, named } = await pending();
    const { token } = await insertLink(h, links, { requestId, approverId: named.user.id });
    // before, this POST approved the request as the link's approver
    const res = await submit(token, { comment: 'looks fine' });
    expect(res.status).toBe(401);
    expect(res.text).toContain('Sign in to decide');
    expect(res.text).toContain(named.user.displayName);
    expect(await state(requestId)).toEqual(pristine);
    expect((await refusals(requestId)).map((r) => r.reason)).toEqual(['not_signed_in']);
    // the link still works for its approver
    expect((await submit(token, {}, await session(named))).status).toBe(200);
    expect(await state(requestId)).toEqual({ status: 'approved', decisions: 1, usedLinks: 1 });
  });

  it('a forwarded link opened by another approver of the department shows the request read-only and decides nothing', async () => {
    const { w, requestId, named } = await pending();
    const other = w.approvers[1]!;
    const otherPassword = await setPassword(h, other);
    const { token } = await insertLink(h, links, { requestId, approverId: named.user.id });
    const res = await submit(token, {}, await session(other, 0));
    expect(res.status).toBe(403);
    expect(res.text).toContain('This link is not yours');
    for (const s of [w.device.name, w.tech.user.displayName, 'replace the pump firmware', other.user.displayName, named.user.displayName]) expect(res.text).toContain(s);
    // their own password does not sign them in as the named approver
    const typed = await submit(token, { password: otherPassword });
    expect(typed.status).toBe(401);
    expect(typed.text).toContain('Sign-in failed');
    expect(await state(requestId)).toEqual(pristine);
    const reasons = await refusals(requestId);
    expect(reasons.map((r) => r.reason)).toEqual(['someone_else', 'sign_in_failed']);
    expect(reasons[0]!.signedInUserId).toBe(other.user.id);
    const failed = await h.pool.query("SELECT details FROM audit_events WHERE action = 'auth.login_failed' AND details->>'username' = $1", [named.user.username]);
    expect(failed.rowCount).toBe(1);
    // the named approver can still use it
    expect((await submit(token, {}, await session(named))).status).toBe(200);
  });

  it('nobody signed in decides only by signing in as the named approver (password, then the MFA code)', async () => {
    const { requestId, named } = await pending();
    const password = await setPassword(h, named);
    const code = await enrolTotp(h, named);
    const { token, jti } = await insertLink(h, links, { requestId, approverId: named.user.id, action: 'deny' });
    expect((await submit(token, { password: 'not-the-password', code: code() })).status).toBe(401);
    const noCode = await submit(token, { password });
    expect(noCode.status).toBe(401);
    expect(noCode.text).toContain('Confirm it is you');
    expect(await state(requestId)).toEqual(pristine);
    const res = await submit(token, { password, code: code(), comment: 'not during the night shift' });
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain('You denied the request');
    expect(await state(requestId)).toEqual({ status: 'denied', decisions: 1, usedLinks: 1 });
    expect(await decisionAudit(requestId)).toEqual([{ actor_id: named.user.id, details: expect.objectContaining({
      channel: 'slack-link', comment: 'not during the night shift',
      stepUp: { method: 'totp', credentialId: null, via: 'proof' }, link: { jti, signIn: 'password' },
    }) }]);
    expect((await refusals(requestId)).map((r) => r.reason)).toEqual(['sign_in_failed', 'step_up_required']);
  });

  it('the requester signed in (also an approver of the department) can never decide their own request through a link', async () => {
    const w = await world(h, { approvers: 1, device: { policy: { approvalsRequired: 1 } } });
    const requester = await person(h, ['technician', 'approver'], { vendorId: w.vendor.id, department: w.device.policy.approverDepartment });
    const { id: requestId } = await requestAccess(h, requester, w.device.id);
    const named = w.approvers[0]!;
    const { token } = await insertLink(h, links, { requestId, approverId: named.user.id });
    const res = await submit(token, {}, await session(requester, 0));
    expect(res.status).toBe(403);
    expect(res.text).toContain('You cannot decide on your own request');
    // a link issued to the requester themself is refused outright
    const own = await insertLink(h, links, { requestId, approverId: requester.user.id });
    const ownPage = await http.get(`/slack/decide?t=${encodeURIComponent(own.token)}`);
    expect(ownPage.status).toBe(403);
    const ownPost = await http.post('/slack/decide').set({ 'Sec-Fetch-Site': 'same-origin', ...(await session(requester, 0)) }).type('form')
      .send({ t: own.token, csrf: links.csrfFor(own.jti) });
    expect(ownPost.status).toBe(403);
    expect(await state(requestId)).toEqual(pristine);
    expect((await refusals(requestId)).map((r) => r.reason)).toEqual(['own_request', 'wrong_approver', 'wrong_approver']);
  });
});

describe('step-up on the link page', () => {
  it('the named approver with a fresh MFA proof decides once; a replay of the link or of the code is refused', async () => {
    const { w, requestId, named } = await pending();
    const code = await enrolTotp(h, named);
    const { token, jti } = await insertLink(h, links, { requestId, approverId: named.user.id });
    const form = { code: code() };

    // a console session whose sign-in proof is older than STEP_UP_SECONDS, without a code: not yet
    const stale = await submit(token, {}, await session(named, 6 * MIN));
    expect(stale.status).toBe(401);
    expect(stale.text).toContain('Confirm it is you');
    expect(await state(requestId)).toEqual(pristine);

    const page = await http.get(`/slack/decide?t=${encodeURIComponent(token)}`);
    const post = async () => http.post('/slack/decide').set({ 'Sec-Fetch-Site': 'same-origin', ...(await session(named)) }).type('form')
      .send({ t: token, csrf: csrfOf(page.text)!, ...form });
    const res = await post();
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain('You approved the request');
    expect(await decisionAudit(requestId)).toEqual([{ actor_id: named.user.id, details: expect.objectContaining({
      channel: 'slack-link', stepUp: { method: 'totp', credentialId: null, via: 'proof' }, link: { jti, signIn: 'session' },
    }) }]);

    const replay = await post();
    expect(replay.status).toBe(409);
    expect(replay.text).toContain('already been used');
    expect(await state(requestId)).toEqual({ status: 'approved', decisions: 1, usedLinks: 1 });

    // the same code on another request's link: used once already
    const colleague = await person(h, ['technician'], { vendorId: w.vendor.id });
    const next = await requestAccess(h, colleague, w.device.id);
    const other = await insertLink(h, links, { requestId: next.id, approverId: named.user.id });
    const reused = await submit(other.token, form, await session(named));
    expect(reused.status).toBe(401);
    expect(reused.text).toContain('Your confirmation was not accepted');
    expect(await state(next.id)).toEqual(pristine);
    expect((await refusals(next.id)).map((r) => r.reason)).toEqual(['step_up_failed']);
  });

  it('a passkey sign-in counts only with a verified assertion: a made-up one decides nothing, even for an approver without factors', async () => {
    const { requestId, named } = await pending();
    const { token } = await insertLink(h, links, { requestId, approverId: named.user.id });
    const assertion = JSON.stringify({ id: 'AAAA', rawId: 'AAAA', type: 'public-key', clientExtensionResults: {},
      response: { clientDataJSON: 'e30', authenticatorData: 'AAAA', signature: 'AAAA' } });
    const res = await submit(token, { webauthn: assertion });
    expect(res.status).toBe(401);
    expect(res.text).toContain('Your confirmation was not accepted');
    expect(await state(requestId)).toEqual(pristine);
    expect((await refusals(requestId)).map((r) => r.reason)).toEqual(['step_up_failed']);
  });

  it('a console session signed in with MFA moments ago decides without a code; the audit event names the method', async () => {
    const { requestId, named } = await pending();
    await enrolTotp(h, named);
    const { token } = await insertLink(h, links, { requestId, approverId: named.user.id });
    const res = await submit(token, {}, await session(named, MIN));
    expect(res.status, res.text).toBe(200);
    expect((await decisionAudit(requestId))[0]!.details).toEqual(expect.objectContaining({
      channel: 'slack-link', stepUp: { method: 'totp', credentialId: null, via: 'session' },
    }));
  });
});
