/**
 * Who may see what, the one rule (server/core/scope.ts) for every list and read: admins and auditors
 * all, approvers their approver department's, technicians their own — and someone who is both a
 * technician and an approver sees both parts, in every list, exactly as the single reads allow.
 */
import { describe, expect, it } from 'vitest';
import type { Harness } from '../support/harness.js';
import { approve, as, isolatedHarness, person, requestAccess, world, type Person, type World } from '../support/workflow-fixtures.js';

const ref = isolatedHarness();

/** A request approved into a grant, with one session on it and one transfer in that session. */
async function accessWithSession(h: Harness, w: World, tech: Person) {
  const req = await requestAccess(h, tech, w.device.id);
  const { grant } = await approve(h, w.approvers[0]!, req.id);
  const now = h.clock.now();
  const session = await h.deps.store.transaction((tx) => tx.sessions.insert({
    grantId: grant!.id, technicianId: tech.user.id, deviceId: w.device.id, channel: 'shell', command: null,
    clientAddress: '127.0.0.1', startedAt: now, proxyInstance: 'scope-test',
  }));
  const transfer = await h.deps.store.transaction((tx) => tx.transfers.insert({
    sessionId: session.id, grantId: grant!.id, deviceId: w.device.id, technicianId: tech.user.id, direction: 'download',
    path: '/var/log/pump.log', bytes: 3, sha256: 'a'.repeat(64), startedAt: now, endedAt: now, outcome: 'complete', reason: null,
    declared: null, artifactName: null,
  }));
  return { request: req.id, grant: grant!.id, session: session.id, transfer: transfer.id };
}

type Ids = Awaited<ReturnType<typeof accessWithSession>>;

/** What `p` finds in each list, keyed like Ids. */
async function lists(h: Harness, p: Person) {
  const ids = async (path: string) => {
    const res = await as(h, p).get(path);
    expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(200);
    return (res.body.items as { id: string }[]).map((i) => i.id);
  };
  return {
    request: await ids('/api/access-requests?limit=500'), grant: await ids('/api/grants?limit=500'),
    session: await ids('/api/sessions?limit=500'), transfer: await ids('/api/transfers?limit=500'),
  };
}

/** Whether `p` can read each of the records one by one (transfers have no single read: their session's). */
async function reads(h: Harness, p: Person, x: Ids) {
  const ok = async (path: string) => (await as(h, p).get(path)).status === 200;
  return {
    request: await ok(`/api/access-requests/${x.request}`), grant: await ok(`/api/grants/${x.grant}`),
    session: await ok(`/api/sessions/${x.session}`), transfer: await ok(`/api/sessions/${x.session}`),
  };
}

async function sees(h: Harness, p: Person, x: Ids): Promise<Record<keyof Ids, boolean>> {
  const l = await lists(h, p);
  const r = await reads(h, p, x);
  const out = {} as Record<keyof Ids, boolean>;
  for (const k of Object.keys(x) as (keyof Ids)[]) {
    // a list shows exactly what the single read allows
    expect(l[k].includes(x[k]), `${k}: list vs read`).toBe(r[k]);
    out[k] = r[k];
  }
  return out;
}

const all = { request: true, grant: true, session: true, transfer: true };
const none = { request: false, grant: false, session: false, transfer: false };

describe('who may see what', () => {
  it('a technician who is also an approver sees their own access and their department\'s, in every list', async () => {
    const { h } = ref;
    const a = await world(h, { approvers: 1, device: { policy: { approvalsRequired: 1 } } });
    const b = await world(h, { approvers: 1, device: { policy: { approvalsRequired: 1 } } });
    // a technician of A's vendor who also approves B's department
    const both = await person(h, ['technician', 'approver'], { vendorId: a.vendor.id, department: b.device.policy.approverDepartment });
    const own = await accessWithSession(h, a, both);
    const theirs = await accessWithSession(h, b, b.tech);

    expect(await sees(h, both, own)).toEqual(all);
    expect(await sees(h, both, theirs)).toEqual(all);
    // the others see their part only
    expect(await sees(h, a.approvers[0]!, own)).toEqual(all);
    expect(await sees(h, a.approvers[0]!, theirs)).toEqual(none);
    expect(await sees(h, b.tech, own)).toEqual(none);
    expect(await sees(h, b.tech, theirs)).toEqual(all);
    const auditor = await person(h, ['auditor']);
    expect(await sees(h, auditor, own)).toEqual(all);
    expect(await sees(h, auditor, theirs)).toEqual(all);
  }, 90_000);
});
