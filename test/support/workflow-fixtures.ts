/**
 * Builders for the access-workflow API tests: people with tokens minted at the fake clock's "now"
 * (a session token lives 60 fake minutes, and these tests move the clock by days), a vendor with a
 * deployed device and its technician and approvers, request/approve helpers, and audit reads.
 */
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import type { RoleName, User } from '../../server/core/types.js';
import type { JobSpec } from '../../server/core/workflow-ports.js';
import { handleJob } from '../../server/core/reconcile.js';
import { createVendor, deployedDevice, sshKeygenPair, type DeviceJson } from './fixtures.js';
import { createTestDatabase } from './databases.js';
import { startHarness, unique, type Harness } from './harness.js';

/** the audit chain's advisory lock (server/db/audit-repo.ts, migration 037) */
export const AUDIT_CHAIN_LOCK = 0x706f7274;
export const MIN = 60_000;
/** the fake clock's start in workflow tests: a Monday morning */
export const T0 = new Date('2031-03-03T09:00:00Z');
export const plus = (ms: number, from = T0) => new Date(from.getTime() + ms);

/**
 * Registers the hooks of a workflow test file: a harness on a database of its own (reconciliation
 * and row counts must not see other files' grants), the fake clock back at T0 and no jobs left
 * over from earlier tests before each test. Read `.h` inside tests.
 */
export function isolatedHarness(): { readonly h: Harness } {
  const ref = {} as { h: Harness; db: Awaited<ReturnType<typeof createTestDatabase>> };
  beforeAll(async () => {
    ref.db = await createTestDatabase();
    ref.h = await startHarness({ databaseUrl: ref.db.url });
  });
  afterAll(async () => {
    await ref.h?.close();
    await ref.db?.drop();
  });
  beforeEach(() => {
    ref.h.clock.set(T0);
    ref.h.scheduler.jobs.clear();
  });
  return ref;
}
export const HOUR = 60 * MIN;

export interface Person {
  user: User;
  /** a bearer header minted now (at the fake clock's time) */
  auth(): Promise<{ Authorization: string }>;
}

/** A user straight in the store with a unique username and display name. */
export async function person(
  h: Harness,
  roles: RoleName[],
  extra: { vendorId?: string | null; department?: string | null; displayName?: string } = {},
): Promise<Person> {
  const user = await h.deps.store.transaction((tx) =>
    tx.users.insert({
      username: unique(roles[0]!).toLowerCase(),
      displayName: extra.displayName ?? unique(`Test ${roles.join('/')}`),
      roles,
      vendorId: extra.vendorId ?? null,
      department: extra.department ?? null,
      slackUserId: null,
      passwordHash: '',
    }),
  );
  return {
    user,
    auth: async () => ({ Authorization: `Bearer ${(await h.deps.tokens.issueSessionToken(user.id)).token}` }),
  };
}

/** Thin supertest calls as a person, with a fresh token each time. */
export function as(h: Harness, p: Person) {
  return {
    get: async (path: string) => h.http.get(path).set(await p.auth()),
    post: async (path: string, body: object = {}) => h.http.post(path).set(await p.auth()).send(body),
    patch: async (path: string, body: object) => h.http.patch(path).set(await p.auth()).send(body),
  };
}

// one real ssh-keygen host key per test file: ssh2's generateKeyPairSync('ed25519') (fixtures.newHostKey)
// yields a malformed key about once in 200 calls, which made device creation fail at random
let hostKeyLine: string | undefined;
export const hostKey = () => (hostKeyLine ??= sshKeygenPair().publicKey);

export interface World {
  admin: Person;
  vendor: { id: string; name: string; contractEnd: string };
  device: DeviceJson;
  department: string;
  tech: Person;
  approvers: Person[];
}

/**
 * A vendor, a deployed device it services (approver department = the device's department), one
 * technician of the vendor and `approvers` approvers of the department.
 */
export async function world(
  h: Harness,
  opts: { approvers?: number; device?: Record<string, unknown>; vendor?: Record<string, unknown> } = {},
): Promise<World> {
  const admin = await person(h, ['admin']);
  const adminAuth = await admin.auth();
  const vendor = await createVendor(h, adminAuth, opts.vendor);
  const department = unique('dept');
  const device = await deployedDevice(h, adminAuth, { department, vendorIds: [vendor.id], hostKey: hostKey(), ...opts.device });
  const tech = await person(h, ['technician'], { vendorId: vendor.id });
  const approvers: Person[] = [];
  for (let i = 0; i < (opts.approvers ?? 2); i++) {
    approvers.push(await person(h, ['approver'], { department: device.policy.approverDepartment }));
  }
  return { admin, vendor, device, department, tech, approvers };
}

export const requestBody = (deviceId: string, extra: Record<string, unknown> = {}) => ({
  deviceId, reason: 'replace the pump firmware', ticketRef: unique('CHG'), durationMinutes: 30, ...extra,
});

/** Creates a request (201 expected) and returns its JSON. */
export async function requestAccess(h: Harness, tech: Person, deviceId: string, extra: Record<string, unknown> = {}) {
  const res = await as(h, tech).post('/api/access-requests', requestBody(deviceId, extra));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; status: string; startsAt: string; startsOnApproval: boolean; expiresAt: string; kind: string };
}

export interface GrantJson {
  id: string; requestId: string; technicianId: string; deviceId: string; status: string;
  startsAt: string; endsAt: string; activatedAt: string | null; endedAt: string | null; endReason: string | null; revokedBy: string | null;
}

/** Approves (200 expected) and returns the decision result. */
export async function approve(h: Harness, approver: Person, requestId: string, comment = 'ok') {
  const res = await as(h, approver).post(`/api/access-requests/${requestId}/approve`, { comment });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { request: { id: string; status: string }; decision: { id: string }; grant: GrantJson | null };
}

/** A request approved by the world's approvers, as many as the device needs; returns the grant. */
export async function grantFor(h: Harness, w: World, extra: Record<string, unknown> = {}): Promise<GrantJson> {
  const req = await requestAccess(h, w.tech, w.device.id, extra);
  let grant: GrantJson | null = null;
  for (const a of w.approvers.slice(0, w.device.policy.approvalsRequired)) grant = (await approve(h, a, req.id)).grant;
  expect(grant).not.toBeNull();
  return grant!;
}

/** Runs every job due at the fake clock's now through the real handlers. */
export const runDue = (h: Harness): Promise<JobSpec[]> => h.scheduler.runDue(h.clock.now(), (job) => handleJob(h.deps, job));

/** Moves the fake clock to `at` and runs what is due. */
export async function runAt(h: Harness, at: Date | string): Promise<JobSpec[]> {
  h.clock.set(new Date(at));
  return runDue(h);
}

export interface AuditRow { seq: number; action: string; actor_type: string; actor_id: string | null; subject_id: string | null; details: Record<string, unknown> }

/** Audit events about the given subjects, in chain order. */
export async function auditOf(h: Harness, ...subjectIds: string[]): Promise<AuditRow[]> {
  const { rows } = await h.pool.query(
    'SELECT seq::int, action, actor_type, actor_id, subject_id, details FROM audit_events WHERE subject_id = ANY($1) ORDER BY seq',
    [subjectIds],
  );
  return rows as AuditRow[];
}

export const actionsOf = async (h: Harness, ...subjectIds: string[]) => (await auditOf(h, ...subjectIds)).map((r) => r.action);

export async function grantRow(h: Harness, grantId: string) {
  const { rows } = await h.pool.query('SELECT status, starts_at, ends_at, end_reason, revoked_by FROM grants WHERE id = $1', [grantId]);
  return rows[0] as { status: string; starts_at: Date; ends_at: Date; end_reason: string | null; revoked_by: string | null };
}

export async function requestRow(h: Harness, requestId: string) {
  const { rows } = await h.pool.query('SELECT status, closed_at, kind FROM access_requests WHERE id = $1', [requestId]);
  return rows[0] as { status: string; closed_at: Date | null; kind: string };
}

/** `grant.ended` events on the bus naming this grant, published after their transaction committed. */
export const endedEvents = (h: Harness, grantId: string) =>
  h.bus.published.filter((e) => e.type === 'grant.ended' && e.grantIds.includes(grantId) && !e.early);

/** the same, published before the commit (the early cut, server/core/effects.ts) */
export const earlyEndedEvents = (h: Harness, grantId: string) =>
  h.bus.published.filter((e) => e.type === 'grant.ended' && e.grantIds.includes(grantId) && e.early);

/** waits until `n` statements of the harness's database wait for a lock (a row, a transaction or the audit chain's) */
async function lockWaiters(h: Harness, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await h.pool.query(
      `SELECT count(DISTINCT l.pid)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE NOT l.granted AND a.datname = current_database()`);
    if (rows[0].n >= n) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`fewer than ${n} statements came to wait for a lock`);
}

/**
 * Runs two audited changes so that they overlap for sure: the audit chain's lock (audit-repo.ts) is
 * held meanwhile, so `first` does all its work and waits at its commit; then `second` runs until it
 * waits too (for `first`'s rows, or for the chain at its own commit); then both go on. Returns both answers.
 */
export async function overlapAtCommit<A, B>(h: Harness, first: () => Promise<A>, second: () => Promise<B>): Promise<[A, B]> {
  const holder = await h.pool.connect();
  try {
    await holder.query('SELECT pg_advisory_lock($1)', [AUDIT_CHAIN_LOCK]);
    const a = first();
    await lockWaiters(h, 1);
    const b = second();
    await lockWaiters(h, 2);
    await holder.query('SELECT pg_advisory_unlock($1)', [AUDIT_CHAIN_LOCK]);
    return await Promise.all([a, b]);
  } finally {
    holder.release();
  }
}
