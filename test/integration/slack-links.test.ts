/**
 * Slack approval links over HTTP, on the real database: opening a link (GET) never decides; the
 * confirm POST decides once, for the link's approver signed in on the page (their console session or
 * their password); reused, expired, tampered, wrong-approver and forged-form attempts get a clear page
 * and an audit event, and leave the request, its decisions and the link untouched. Who may decide
 * through a link (forwarded links, the requester, step-up) is in slack-link-binding.test.ts.
 */
import supertest from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app.js';
import { slackRoutes } from '../../server/http/routes/slack.js';
import { createLinkTokens, type LinkAction, type LinkTokens } from '../../server/notify/slack-links.js';
import { startHarness, type Harness } from '../support/harness.js';
import { approverSession, insertLink } from '../support/slack-link-fixtures.js';
import { as, MIN, person, requestAccess, world, type Person, type World } from '../support/workflow-fixtures.js';

const publicUrl = 'https://portcullis.example';
let h: Harness;
let links: LinkTokens;
let http: ReturnType<typeof supertest>;

beforeAll(async () => {
  h = await startHarness();
  links = createLinkTokens({ signing: h.keys.tokenSigning, verifying: h.keys.tokenVerifying }, h.clock);
  http = supertest(createApp(h.deps, slackRoutes({ core: h.deps, publicUrl, links })));
});
afterAll(async () => h?.close());
beforeEach(() => h.clock.set(new Date()));

const link = (requestId: string, approverId: string, action: LinkAction = 'approve') => insertLink(h, links, { requestId, approverId, action });

const open = (token: string) => http.get(`/slack/decide?t=${encodeURIComponent(token)}`);
const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1];
/** A form post from the page; `by` sends that person's console session cookie, as their browser would. */
const post = async (form: Record<string, string | undefined>, opts: { by?: Person; headers?: Record<string, string> } = {}) =>
  http.post('/slack/decide').set({ 'Sec-Fetch-Site': 'same-origin', ...opts.headers, ...(opts.by ? await approverSession(h, opts.by) : {}) })
    .type('form').send(form);

/** Opens the page like a browser, then confirms with the page's own form, signed in to the console as `by`. */
async function confirm(token: string, by: Person, comment?: string) {
  const page = await open(token);
  expect(page.status, page.text).toBe(200);
  return post({ t: token, csrf: csrfOf(page.text), ...(comment ? { comment } : {}) }, { by });
}

/** What a decision would change: the request, its decisions and grant, its used links. */
async function state(requestId: string) {
  const q = async (sql: string) => (await h.pool.query(sql, [requestId])).rows[0];
  return {
    status: (await q('SELECT status FROM access_requests WHERE id = $1')).status as string,
    decisions: (await q('SELECT count(*)::int AS n FROM decisions WHERE request_id = $1')).n as number,
    grants: (await q('SELECT count(*)::int AS n FROM grants WHERE request_id = $1')).n as number,
    usedLinks: (await q('SELECT count(*)::int AS n FROM approval_links WHERE request_id = $1 AND used_at IS NOT NULL')).n as number,
  };
}
const pristine = { status: 'pending', decisions: 0, grants: 0, usedLinks: 0 };

async function refusals(requestId: string) {
  const { rows } = await h.pool.query(
    "SELECT details FROM audit_events WHERE action = 'slack.link_refused' AND subject_id = $1 ORDER BY seq", [requestId]);
  return rows.map((r) => (r.details as { reason: string }).reason);
}

async function pending(approvals: 1 | 2 = 1): Promise<{ w: World; requestId: string }> {
  const w = await world(h, { approvers: 2, device: { policy: { approvalsRequired: approvals } } });
  const req = await requestAccess(h, w.tech, w.device.id);
  return { w, requestId: req.id };
}

describe('opening a link (GET)', () => {
  it('shows the request by name with a confirm form, and decides nothing however often it is opened', async () => {
    const { w, requestId } = await pending();
    const { token } = await link(requestId, w.approvers[0]!.user.id);
    for (let i = 0; i < 3; i++) {
      const page = await open(token);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.headers['referrer-policy']).toBe('same-origin');
      for (const s of [w.device.name, w.tech.user.displayName, w.vendor.name, 'replace the pump firmware', 'Approve access']) expect(page.text).toContain(s);
      expect(page.text).toMatch(/<form method="post" action="\/slack\/decide"/);
      expect(csrfOf(page.text)).toBeTruthy();
      expect(page.text).toContain('width=device-width');
    }
    expect(await state(requestId)).toEqual(pristine);
    expect(await refusals(requestId)).toEqual([]);
  });

  it('never writes the token to the access log', async () => {
    const { w, requestId } = await pending();
    const { token } = await link(requestId, w.approvers[0]!.user.id);
    await confirm(token, w.approvers[0]!);
    const signature = token.split('.')[2]!;
    expect(h.logLines.some((l) => l.includes('/slack/decide'))).toBe(true);
    expect(h.logLines.filter((l) => l.includes(signature))).toEqual([]);
  });
});

describe('confirming a link (POST)', () => {
  it('decides once, as the approver, through the slack-link channel; a second use is refused', async () => {
    const { w, requestId } = await pending();
    const approver = w.approvers[0]!.user;
    const { token } = await link(requestId, approver.id);
    const res = await confirm(token, w.approvers[0]!, 'patch window agreed');
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain('You approved the request');
    expect(await state(requestId)).toEqual({ status: 'approved', decisions: 1, grants: 1, usedLinks: 1 });
    const { rows } = await h.pool.query('SELECT approver_id, channel, comment FROM decisions WHERE request_id = $1', [requestId]);
    expect(rows).toEqual([{ approver_id: approver.id, channel: 'slack-link', comment: 'patch window agreed' }]);
    const audit = await h.pool.query("SELECT actor_id, details FROM audit_events WHERE action = 'request.approved_by' AND subject_id = $1", [requestId]);
    expect(audit.rows).toEqual([{ actor_id: approver.id, details: expect.objectContaining({ channel: 'slack-link' }) }]);
    // the after-commit effects ran: notifications and the grant's jobs
    expect(h.notifier.events).toContainEqual(expect.objectContaining({ type: 'request.decided', outcome: 'approved', request: expect.objectContaining({ requestId }) }));
    expect(h.scheduler.for((await h.pool.query('SELECT id FROM grants WHERE request_id = $1', [requestId])).rows[0].id).length).toBeGreaterThan(0);

    const again = await post({ t: token, csrf: links.csrfFor(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti) }, { by: w.approvers[0]! });
    expect(again.status).toBe(409);
    expect(again.text).toContain('already been used');
    expect((await open(token)).status).toBe(409);
    expect(await state(requestId)).toEqual({ status: 'approved', decisions: 1, grants: 1, usedLinks: 1 });
    expect(await refusals(requestId)).toEqual(['reused', 'reused']);
  });

  it('a deny link denies, with the comment', async () => {
    const { w, requestId } = await pending(2);
    const { token } = await link(requestId, w.approvers[1]!.user.id, 'deny');
    const page = await open(token);
    expect(page.text).toContain('Deny access');
    const res = await post({ t: token, csrf: csrfOf(page.text), comment: '  not during surgery hours ' }, { by: w.approvers[1]! });
    expect(res.status).toBe(200);
    expect(res.text).toContain('You denied the request');
    expect(await state(requestId)).toEqual({ status: 'denied', decisions: 1, grants: 0, usedLinks: 1 });
    expect((await h.pool.query('SELECT comment FROM decisions WHERE request_id = $1', [requestId])).rows[0].comment).toBe('not during surgery hours');
  });

  it('one of two approvals leaves the request pending and says so', async () => {
    const { w, requestId } = await pending(2);
    const res = await confirm((await link(requestId, w.approvers[0]!.user.id)).token, w.approvers[0]!);
    expect(res.text).toContain('1 of 2 approvals so far');
    expect(await state(requestId)).toEqual({ status: 'pending', decisions: 1, grants: 0, usedLinks: 1 });
    // the same approver's other link has nothing left to decide, and is not consumed
    const second = await open((await link(requestId, w.approvers[0]!.user.id, 'deny')).token);
    expect(second.status).toBe(409);
    expect(second.text).toContain('You already approved this request');
  });
});

describe('refused links change nothing', () => {
  it('an expired link: a clear page, an audit event, the request untouched', async () => {
    const { w, requestId } = await pending();
    const { token, jti } = await link(requestId, w.approvers[0]!.user.id);
    h.clock.advance(31 * MIN);
    const page = await open(token);
    expect(page.status).toBe(410);
    expect(page.text).toContain('This link has expired');
    expect(page.text).toContain(`${publicUrl}/approvals/${requestId}`);
    expect((await post({ t: token, csrf: links.csrfFor(jti) }, { by: w.approvers[0]! })).status).toBe(410);
    expect(await state(requestId)).toEqual(pristine);
    expect(await refusals(requestId)).toEqual(['expired', 'expired']);
  });

  it('a tampered, truncated or made-up token', async () => {
    const { w, requestId } = await pending();
    const { token, jti } = await link(requestId, w.approvers[0]!.user.id);
    const [head, payload, sig] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const denyInstead = `${head}.${Buffer.from(JSON.stringify({ ...claims, act: 'deny' })).toString('base64url')}.${sig}`;
    // one character of the signature changed, to another one (one signature in 64 has an x there already)
    const flipped = `${head}.${payload}.${sig.slice(0, 10)}${sig[10] === 'x' ? 'y' : 'x'}${sig.slice(11)}`;
    for (const bad of [denyInstead, token.slice(0, -3), flipped, 'not-a-token']) {
      const page = await open(bad);
      expect(page.status).toBe(400);
      expect(page.text).toContain('This link is not valid');
      expect((await post({ t: bad, csrf: links.csrfFor(jti) }, { by: w.approvers[0]! })).status).toBe(400);
    }
    expect((await http.get('/slack/decide')).status).toBe(400);
    expect(await state(requestId)).toEqual(pristine);
    // and the real link still works afterwards
    expect((await confirm(token, w.approvers[0]!)).status).toBe(200);
  });

  it('a link for someone who may not decide: another department, a disabled approver', async () => {
    const { w, requestId } = await pending();
    const outsider = await person(h, ['approver'], { department: 'Radiology' });
    const foreign = await link(requestId, outsider.user.id);
    const page = await open(foreign.token);
    expect(page.status).toBe(403);
    expect(page.text).toContain('cannot decide this request');
    expect((await post({ t: foreign.token, csrf: links.csrfFor(foreign.jti) }, { by: outsider })).status).toBe(403);

    const disabled = w.approvers[1]!;
    const theirs = await link(requestId, disabled.user.id);
    await h.pool.query('UPDATE users SET disabled_at = now() WHERE id = $1', [disabled.user.id]);
    expect((await open(theirs.token)).status).toBe(403);
    expect((await post({ t: theirs.token, csrf: links.csrfFor(theirs.jti) }, { by: disabled })).status).toBe(403);

    expect(await state(requestId)).toEqual(pristine);
    expect(await refusals(requestId)).toEqual(['wrong_approver', 'wrong_approver', 'approver_disabled', 'approver_disabled']);
  });

  it('a POST without the page\'s CSRF value, or from another site, is refused and leaves the link usable', async () => {
    const { w, requestId } = await pending();
    const a = await link(requestId, w.approvers[0]!.user.id);
    const b = await link(requestId, w.approvers[1]!.user.id);
    const by = w.approvers[0]!;
    expect((await post({ t: a.token }, { by })).status).toBe(403);
    expect((await post({ t: a.token, csrf: links.csrfFor(b.jti) }, { by })).status).toBe(403);
    expect((await post({ t: a.token, csrf: links.csrfFor(a.jti) }, { by, headers: { 'Sec-Fetch-Site': 'cross-site' } })).status).toBe(403);
    const noFetchMetadata = http.post('/slack/decide').set({ Origin: 'https://evil.example', ...(await approverSession(h, by)) }).type('form');
    expect((await noFetchMetadata.send({ t: a.token, csrf: links.csrfFor(a.jti) })).status).toBe(403);
    expect(await state(requestId)).toEqual(pristine);
    expect(await refusals(requestId)).toEqual(['bad_csrf', 'bad_csrf', 'cross_site', 'cross_site']);
    expect((await confirm(a.token, by)).status).toBe(200);
  });

  it('a request already decided on the web: the link shows so, and is not consumed', async () => {
    const { w, requestId } = await pending();
    const { token, jti } = await link(requestId, w.approvers[1]!.user.id);
    expect((await as(h, w.approvers[0]!).post(`/api/access-requests/${requestId}/approve`, {})).status).toBe(200);
    const page = await open(token);
    expect(page.status).toBe(409);
    expect(page.text).toContain('already approved');
    expect((await post({ t: token, csrf: links.csrfFor(jti) }, { by: w.approvers[1]! })).status).toBe(409);
    expect(await state(requestId)).toEqual({ status: 'approved', decisions: 1, grants: 1, usedLinks: 0 });
  });

  it('a link token is not a login', async () => {
    const { w, requestId } = await pending();
    const { token } = await link(requestId, w.approvers[0]!.user.id);
    expect((await http.get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(401);
  });
});
