/**
 * The API under the everyday console (issue 18, items 7–10), against the real PostgreSQL: grants carry
 * the names people read; bad input answers with words for people and `details.fields`; an admin sees
 * who is locked out of logging in and lifts it (audited); a session shows the access it ran under
 * and, once cut, who cut it and why.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeConnection, recordSessionEnd, recordSessionStart } from '../../server/core/sessions.js';
import { deviceBody, expectError, sshKeygenPair } from '../support/fixtures.js';
import { makeUser, startHarness, type Harness } from '../support/harness.js';
import { as, grantFor, person, world } from '../support/workflow-fixtures.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

/** zod's own wording, which must never reach a person */
const LIBRARY_WORDING = /Too small|Too big|Invalid input|Invalid option|Unrecognized key|expected (number|string|int|boolean|array)/;

describe('grants carry names', () => {
  it('lists and reads grants with device, technician, vendor, request and revoker names', async () => {
    const w = await world(h, { approvers: 1 });
    const grant = await grantFor(h, w, { reason: 'swap the flow sensor', ticketRef: 'CHG-5150' });
    const approver = w.approvers[0]!;
    const listed = (await as(h, approver).get('/api/grants?status=active')).body.items.find((g: { id: string }) => g.id === grant.id);
    expect(listed).toMatchObject({
      device: { id: w.device.id, name: w.device.name },
      technician: { id: w.tech.user.id, username: w.tech.user.username, displayName: w.tech.user.displayName },
      vendor: { id: w.vendor.id, name: w.vendor.name },
      request: { reason: 'swap the flow sensor', ticketRef: 'CHG-5150' },
      revoker: null,
      emergency: false,
    });
    // names never widen the scope: an approver of another department still sees nothing of it
    const stranger = await person(h, ['approver'], { department: 'another-department' });
    expect((await as(h, stranger).get('/api/grants')).body.items.map((g: { id: string }) => g.id)).not.toContain(grant.id);

    expect((await as(h, approver).post(`/api/grants/${grant.id}/revoke`, { reason: 'wrong ventilator' })).status).toBe(200);
    const read = await as(h, w.tech).get(`/api/grants/${grant.id}`);
    expect(read.body).toMatchObject({ status: 'revoked', endReason: 'wrong ventilator', revoker: { id: approver.user.id, displayName: approver.user.displayName } });
  });
});

describe('bad input in words for people, with the fields named', () => {
  it('a device form: each field says what is wrong, and a pasted private key is recognised', async () => {
    const admin = await makeUser(h, ['admin']);
    const res = await h.http.post('/api/devices').set(admin.auth)
      .send(deviceBody({ sshPort: 0, hostKey: sshKeygenPair().privateKey, policy: { maxSessionMinutes: 0, approvalsRequired: 3 }, color: 'red' }));
    const err = expectError(res, 400, 'invalid') as { message: string; details: { in: string; fields: Record<string, string> } };
    expect(err.details.in).toBe('body');
    expect(err.details.fields).toEqual({
      sshPort: 'must be at least 1',
      hostKey: expect.stringMatching(/^that looks like a private key — paste the public key \(the \.pub file\)/),
      'policy.maxSessionMinutes': 'must be at least 1',
      'policy.approvalsRequired': 'must be one of: 1, 2',
      color: 'is not a field this accepts',
    });
    expect(err.message).toContain('sshPort: must be at least 1');
    expect(err.message).not.toMatch(LIBRARY_WORDING);
    expect(err.message).not.toContain('body.');

    // a public key where the device's private key belongs
    const cred = await h.http.post('/api/devices').set(admin.auth).send(deviceBody({ credential: { username: 'svc', privateKey: sshKeygenPair().publicKey } }));
    expect(expectError(cred, 400, 'invalid').details).toMatchObject({ fields: { 'credential.privateKey': expect.stringMatching(/^that is a public key/) } });
  });

  it('a request, a certificate, a query and a rule of the core: fields named, no library wording', async () => {
    const w = await world(h, { approvers: 1 });
    const request = expectError(await as(h, w.tech).post('/api/access-requests', { deviceId: w.device.id, reason: ' ', durationMinutes: 0 }), 400, 'invalid');
    expect(request.details).toMatchObject({ fields: { reason: 'must not be empty', ticketRef: 'is required', durationMinutes: 'must be at least 1' } });

    const cert = await as(h, w.tech).post(`/api/grants/${randomUUID()}/ssh-certificate`, { publicKey: sshKeygenPair().privateKey });
    expect(expectError(cert, 400, 'invalid').details).toMatchObject({ fields: { publicKey: expect.stringMatching(/private key — paste the public key/) } });

    const query = expectError(await as(h, w.admin).get('/api/audit?limit=0'), 400, 'invalid');
    expect(query).toMatchObject({ message: 'query.limit: must be at least 1', details: { in: 'query', fields: { limit: 'must be at least 1' } } });

    const tech = expectError(await as(h, w.admin).post('/api/users', { username: `t-${Date.now()}`, displayName: 'T', roles: ['technician'], password: 'long enough password' }), 400, 'invalid');
    expect(tech.details).toMatchObject({ fields: { vendorId: 'a technician must belong to a vendor' } });

    for (const e of [request, cert.body.error, query, tech]) expect(e.message).not.toMatch(LIBRARY_WORDING);
  });
});

describe('locked logins: visible to admins, lifted by Unlock', () => {
  let n = 0;
  const address = () => `203.0.113.${(process.pid % 50) * 4 + (++n % 4) + 1}`;
  const login = (username: string, password: string, from: string) =>
    h.http.post('/api/auth/login').set('X-Forwarded-For', from).send({ username, password });

  it('shows the pair and account locks with their end, and Unlock clears them and is audited', async () => {
    const admin = await makeUser(h, ['admin']);
    const u = await makeUser(h, ['auditor']);
    const sources = [address(), address(), address()];
    // the harness locks a (user, address) pair after 3 failures, and the account once 3 addresses are locked
    for (const from of sources) for (let i = 0; i < 3; i++) expect((await login(u.user.username, `wrong-${i}`, from)).status).toBe(401);
    const refused = expectError(await login(u.user.username, u.password, address()), 429, 'throttled');
    const retryAt = (refused.details as { retryAt: string }).retryAt;
    expect(Date.parse(retryAt)).toBeGreaterThan(h.clock.now().getTime());

    const listed = (await h.http.get('/api/users').set(admin.auth)).body.items.find((x: { id: string }) => x.id === u.user.id);
    expect(listed.loginLock).toEqual({
      accountLockedUntil: retryAt,
      lockedSources: expect.arrayContaining(sources.map((address) => ({ address, lockedUntil: expect.any(String) }))),
    });
    expect(listed.loginLock.lockedSources).toHaveLength(3);
    expect((await h.http.get(`/api/users/${admin.user.id}`).set(admin.auth)).body.loginLock).toBeNull();

    // only an admin unlocks
    expectError(await h.http.post(`/api/users/${u.user.id}/unlock`).set(u.auth), 403, 'forbidden');
    expectError(await h.http.post(`/api/users/${randomUUID()}/unlock`).set(admin.auth), 404, 'not_found');

    const unlocked = await h.http.post(`/api/users/${u.user.id}/unlock`).set(admin.auth);
    expect(unlocked.status, JSON.stringify(unlocked.body)).toBe(200);
    expect(unlocked.body).toMatchObject({ id: u.user.id, loginLock: null });
    expect((await h.http.get(`/api/users/${u.user.id}`).set(admin.auth)).body.loginLock).toBeNull();
    const { rows } = await h.pool.query(`SELECT actor_id, details FROM audit_events WHERE action = 'auth.unlocked' AND subject_id = $1`, [u.user.id]);
    expect(rows).toEqual([{ actor_id: admin.user.id, details: expect.objectContaining({ username: u.user.username, accountLockedUntil: retryAt }) }]);
    expect(rows[0].details.lockedSources.map((s: { address: string }) => s.address).sort()).toEqual([...sources].sort());

    // the owner logs in again at once, from the address that was locked too, with a fresh count
    expect((await login(u.user.username, u.password, sources[0]!)).status).toBe(200);
    expect((await login(u.user.username, 'wrong-again', sources[1]!)).status).toBe(401);
    expect((await login(u.user.username, u.password, sources[1]!)).status).toBe(200);
  });
});

describe('a session shows its access, and who cut it', () => {
  it('reason, ticket, vendor and grant end; then "terminated by" or "revoked by" with the reason', async () => {
    const w = await world(h, { approvers: 1 });
    const grant = await grantFor(h, w, { reason: 'calibrate the O2 cell', ticketRef: 'INC-77' });
    const approver = w.approvers[0]!;
    const open = async () => {
      const conn = await authorizeConnection(h.deps, { grantId: grant.id, principal: w.device.name });
      return (await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: null, proxyInstance: 'everyday-test' })).session;
    };
    const first = await open();
    const view = (await as(h, approver).get(`/api/sessions/${first.id}`)).body;
    expect(view).toMatchObject({
      access: { grantId: grant.id, status: 'active', endsAt: grant.endsAt, emergency: false, reason: 'calibrate the O2 cell', ticketRef: 'INC-77',
        vendor: { id: w.vendor.id, name: w.vendor.name } },
      cut: null,
    });
    const listed = (await as(h, approver).get(`/api/sessions?grantId=${grant.id}`)).body.items;
    expect(listed[0]).toMatchObject({ access: { reason: 'calibrate the O2 cell', ticketRef: 'INC-77' } });

    // an approver terminates the session (the proxy then ends it as revoked)
    expect((await as(h, approver).post(`/api/sessions/${first.id}/terminate`, { reason: 'alarm on bed 3' })).status).toBe(200);
    await recordSessionEnd(h.deps, first.id, { endReason: 'revoked', bytesIn: 0, bytesOut: 0 });
    expect((await as(h, w.admin).get(`/api/sessions/${first.id}`)).body.cut)
      .toMatchObject({ kind: 'terminated', by: { id: approver.user.id, displayName: approver.user.displayName }, reason: 'alarm on bed 3' });

    // the admin revokes the grant under a second session
    const second = await open();
    expect((await as(h, w.admin).post(`/api/grants/${grant.id}/revoke`, { reason: 'vendor left the site' })).status).toBe(200);
    await recordSessionEnd(h.deps, second.id, { endReason: 'revoked', bytesIn: 0, bytesOut: 0 });
    expect((await as(h, approver).get(`/api/sessions/${second.id}`)).body.cut)
      .toMatchObject({ kind: 'grant_revoked', by: { id: w.admin.user.id, displayName: w.admin.user.displayName }, reason: 'vendor left the site' });
  });
});
