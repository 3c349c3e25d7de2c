/**
 * Sessions through the proxy, as the control plane sees them. Invariants: a connection is allowed
 * only for an active grant inside its window, on a deployed device whose name is the principal,
 * for an enabled user who still holds the technician role and belongs to the grant's vendor, which
 * still services the device under a running contract; the decrypted device credential exists only
 * in the caller's memory; every start, end, refusal and recording access is audited.
 */
import { auditActor, hasRole, requireRole, requireUser } from './access.js';
import { listInScope, maySee, recordScopes, requireOversight } from './scope.js';
import { openDeviceLogin, type DeviceLoginUse } from './device-credentials.js';
import { forbidden, notFound, unauthenticated, conflict } from './errors.js';
import type { CoreDeps, SessionFilter } from './ports.js';
import type { Actor, Device, DeviceCredential, Grant, Recording, Session, SessionChannel, SessionEndReason, Transfer, User } from './types.js';
import { contractCovers } from './access-rules.js';
import { sessionAccess, sessionCut, type SessionAccess, type SessionCut } from './session-context.js';
import { currentSupervisors, type Supervisor } from './supervision.js';

export interface ConnectionGrant {
  grant: Grant;
  device: Device;
  technician: User;
}

/** Re-checks, at connection time, everything that must hold for a grant to be used now. */
export async function authorizeConnection(deps: CoreDeps, input: { grantId: string; principal: string; serial?: number }): Promise<ConnectionGrant> {
  const now = deps.clock.now();
  const read = deps.store.read;
  const grant = /^[0-9a-f-]{36}$/.test(input.grantId) ? await read.grants.byId(input.grantId) : null;
  if (!grant) throw unauthenticated('no such grant');
  if (grant.status !== 'active') throw unauthenticated(`grant is ${grant.status}`);
  if (now < grant.startsAt || now >= grant.endsAt) throw unauthenticated('outside the grant window');
  const device = await read.devices.byId(grant.deviceId);
  if (!device || device.name !== input.principal) throw unauthenticated('certificate principal does not match the grant');
  if (device.lifecycleState !== 'deployed') throw unauthenticated(`device is ${device.lifecycleState}`);
  const technician = await read.users.byId(grant.technicianId);
  if (!technician || technician.disabledAt) throw unauthenticated('technician disabled');
  // the grant is the vendor's permission, given to one of its technicians for a device it services:
  // it holds only while all of that is still true, whatever path changed it
  if (!hasRole(technician, 'technician')) throw unauthenticated('user no longer holds the technician role');
  if (!technician.vendorId || technician.vendorId !== grant.vendorId) throw unauthenticated('technician no longer belongs to the grant\'s vendor');
  if (!device.vendorIds.includes(technician.vendorId)) throw unauthenticated('vendor no longer services the device');
  const vendor = await read.vendors.byId(technician.vendorId);
  if (!vendor || !contractCovers(vendor.contractEnd, { startsAt: now, endsAt: now })) throw unauthenticated('vendor contract ended');
  if (input.serial !== undefined) {
    const issue = await read.credentialIssues.bySerial(input.serial);
    if (!issue || issue.grantId !== grant.id) throw unauthenticated('certificate serial was not issued for this grant');
  }
  return { grant, device, technician };
}

const utcMinute = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * Why a grant lets nobody in now — revoked (when, by whom, why), ended or not started yet — in words
 * for its technician; null when none of these holds, or the grant, principal or serial do not match.
 * Call it only for a caller who proved they hold a certificate our CA issued for this grant: it names
 * the person who revoked and their reason.
 */
export async function grantRefusalNotice(deps: CoreDeps, input: { grantId: string; principal: string; serial: number }): Promise<string | null> {
  const read = deps.store.read;
  const grant = /^[0-9a-f-]{36}$/.test(input.grantId) ? await read.grants.byId(input.grantId) : null;
  const device = grant ? await read.devices.byId(grant.deviceId) : null;
  if (!grant || !device || device.name !== input.principal) return null;
  const issue = await read.credentialIssues.bySerial(input.serial);
  if (!issue || issue.grantId !== grant.id) return null;
  const now = deps.clock.now();
  if (grant.status === 'revoked') {
    const by = grant.revokedBy ? await read.users.byId(grant.revokedBy) : null;
    return `Access to ${device.name} was revoked at ${utcMinute(grant.endedAt ?? now)}${by ? ` by ${by.displayName}` : ''}` +
      `${grant.endReason ? `: ${grant.endReason}` : '.'}`;
  }
  if (grant.status === 'expired' || now >= grant.endsAt) {
    return `Access to ${device.name} ended at ${utcMinute(grant.endsAt)}. Ask for a new grant to connect again.`;
  }
  if (grant.status === 'scheduled' || now < grant.startsAt) return `Access to ${device.name} starts at ${utcMinute(grant.startsAt)}.`;
  return null;
}

/**
 * The login for one onward connection: the vaulted credential decrypted, or a fresh device certificate
 * whose key id is `use.keyId` (device-credentials.ts).
 */
export function openDeviceCredential(deps: CoreDeps, deviceId: string, use?: DeviceLoginUse): Promise<DeviceCredential> {
  return openDeviceLogin(deps, deviceId, use);
}

export interface AuthFailure {
  reason: string;
  principal: string;
  clientAddress: string | null;
  keyId?: string;
  serial?: string;
  keyFingerprint?: string;
  /** refusals this event stands for (the proxy aggregates them per source address and minute); default 1 */
  count?: number;
  /** aggregated events: refusals by reason, and samples of the principals and (overflow) source addresses */
  reasons?: Record<string, number>;
  principals?: string[];
  sources?: string[];
  firstAt?: string;
  lastAt?: string;
}

/** One `session.auth_failed` event; the reason, principal and key fields are those of the first refusal it counts. */
export async function auditAuthFailure(deps: CoreDeps, f: AuthFailure): Promise<void> {
  await deps.store.transaction((tx) =>
    tx.audit.append(
      { actorType: 'anonymous', actorId: null, action: 'session.auth_failed', subjectType: 'grant',
        subjectId: f.keyId && /^[0-9a-f-]{36}$/.test(f.keyId) ? f.keyId : null, details: { ...f, count: f.count ?? 1 } },
      deps.clock.now(),
    ),
  );
}

/** A channel the device's policy does not allow (port forwarding, agent, X11, SFTP, exec). */
export async function auditRefusedChannel(deps: CoreDeps, conn: ConnectionGrant, what: string, details: Record<string, unknown> = {}): Promise<void> {
  await deps.store.transaction((tx) =>
    tx.audit.append(
      { actorType: 'user', actorId: conn.technician.id, action: 'session.channel_refused', subjectType: 'grant', subjectId: conn.grant.id,
        details: { device: conn.device.name, what, ...details } },
      deps.clock.now(),
    ),
  );
}

export async function auditDeviceAuthFailure(deps: CoreDeps, device: Device, details: Record<string, unknown>): Promise<void> {
  await deps.store.transaction((tx) =>
    tx.audit.append(
      { actorType: 'device', actorId: device.id, action: 'device.auth_failed', subjectType: 'device', subjectId: device.id,
        details: { name: device.name, address: device.address, ...details } },
      deps.clock.now(),
    ),
  );
}

export async function recordSessionStart(
  deps: CoreDeps,
  conn: ConnectionGrant,
  s: { channel: SessionChannel; command: string | null; clientAddress: string | null; proxyInstance: string; recordingPath?: (sessionId: string) => string;
    /** the device connection the session runs over (the key id of its device certificate) */
    deviceLogin?: string | null },
): Promise<{ session: Session; recording: Recording | null }> {
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const session = await tx.sessions.insert({
      grantId: conn.grant.id, technicianId: conn.technician.id, deviceId: conn.device.id,
      channel: s.channel, command: s.command, clientAddress: s.clientAddress, startedAt: now, proxyInstance: s.proxyInstance,
    });
    const recording = s.recordingPath ? await tx.recordings.insert(session.id, s.recordingPath(session.id)) : null;
    await tx.audit.append(
      { actorType: 'user', actorId: conn.technician.id, action: 'session.started', subjectType: 'session', subjectId: session.id,
        details: { grantId: conn.grant.id, device: conn.device.name, channel: s.channel, command: s.command, clientAddress: s.clientAddress,
          ...(s.deviceLogin ? { deviceLogin: s.deviceLogin } : {}) } },
      now,
    );
    return { session, recording };
  });
}

export interface SessionOutcome {
  endReason: SessionEndReason;
  bytesIn: number;
  bytesOut: number;
  recording?: { bytes: number; durationMs: number; sha256: string };
}

/** Ends a session once; the recording's hash is chained into the audit log with it. */
export async function recordSessionEnd(deps: CoreDeps, sessionId: string, o: SessionOutcome): Promise<Session | null> {
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const ended = await tx.sessions.end(sessionId, { endedAt: now, endReason: o.endReason, bytesIn: o.bytesIn, bytesOut: o.bytesOut });
    if (!ended) return null;
    await tx.audit.append(
      { actorType: 'system', actorId: 'proxy', action: 'session.ended', subjectType: 'session', subjectId: sessionId,
        details: { grantId: ended.grantId, endReason: o.endReason, bytesIn: o.bytesIn, bytesOut: o.bytesOut } },
      now,
    );
    if (o.recording) {
      const rec = await tx.recordings.finalise(sessionId, { sizeBytes: o.recording.bytes, durationMs: o.recording.durationMs, sha256: o.recording.sha256, at: now });
      if (rec) {
        await tx.audit.append(
          { actorType: 'system', actorId: 'proxy', action: 'recording.finalised', subjectType: 'session', subjectId: sessionId,
            details: { sha256: o.recording.sha256, sizeBytes: o.recording.bytes, durationMs: o.recording.durationMs } },
          now,
        );
      }
    }
    return ended;
  });
}

/**
 * Closes the sessions this proxy instance left open when it died: each ends as `error`, and its
 * recording — complete up to the last flush — is hashed and chained into the audit log as it is.
 */
export async function closeAbandonedSessions(
  deps: CoreDeps,
  proxyInstance: string,
  measure: (path: string) => Promise<{ bytes: number; sha256: string } | null>,
): Promise<number> {
  const open = await deps.store.read.sessions.unfinished(proxyInstance);
  for (const s of open) {
    const rec = await deps.store.read.recordings.bySession(s.id);
    const file = rec && !rec.finalisedAt ? await measure(rec.path) : null;
    const durationMs = Math.max(0, deps.clock.now().getTime() - s.startedAt.getTime());
    await recordSessionEnd(deps, s.id, {
      endReason: 'error', bytesIn: s.bytesIn, bytesOut: s.bytesOut,
      ...(file ? { recording: { bytes: file.bytes, durationMs, sha256: file.sha256 } } : {}),
    });
  }
  return open.length;
}

/** A session as people read it: with the device's and the technician's names, and the access it ran under. */
export interface SessionView extends Session {
  device: { id: string; name: string };
  technician: { id: string; username: string; displayName: string; vendorId: string | null };
  access: SessionAccess | null;
}

async function withNames(deps: CoreDeps, sessions: Session[]): Promise<SessionView[]> {
  const users = new Map<string, User | null>();
  const devices = new Map<string, Device | null>();
  const out: SessionView[] = [];
  const access = await sessionAccess(deps, sessions);
  for (const s of sessions) {
    if (!users.has(s.technicianId)) users.set(s.technicianId, await deps.store.read.users.byId(s.technicianId));
    if (!devices.has(s.deviceId)) devices.set(s.deviceId, await deps.store.read.devices.byId(s.deviceId));
    const u = users.get(s.technicianId);
    out.push({
      ...s,
      device: { id: s.deviceId, name: devices.get(s.deviceId)?.name ?? '(unknown device)' },
      technician: { id: s.technicianId, username: u?.username ?? '(unknown)', displayName: u?.displayName ?? '(unknown)', vendorId: u?.vendorId ?? null },
      access: access.get(s.grantId) ?? null,
    });
  }
  return out;
}

export async function listSessions(deps: CoreDeps, actor: Actor, f: SessionFilter): Promise<SessionView[]> {
  const user = requireUser(actor);
  if (recordScopes(user).length === 0) throw forbidden();
  return withNames(deps, await listInScope(user, f.limit, (scope) => deps.store.read.sessions.list({ ...f, ...scope }), (s) => s.startedAt));
}

export async function getSession(deps: CoreDeps, actor: Actor, id: string): Promise<SessionView & {
  recording: Recording | null; transfers: Transfer[]; cut: SessionCut | null; supervisors?: Supervisor[];
}> {
  const user = requireUser(actor);
  const s = await deps.store.read.sessions.byId(id);
  if (!s) throw notFound('session');
  const device = await deps.store.read.devices.byId(s.deviceId);
  if (!maySee(user, { technicianId: s.technicianId, approverDepartment: device?.policy.approverDepartment })) throw notFound('session');
  const [named] = await withNames(deps, [s]);
  return { ...named!, recording: await deps.store.read.recordings.bySession(id), transfers: await deps.store.read.transfers.forSession(id),
    cut: await sessionCut(deps, s),
    // who supervises it right now (SPEC §8.6): only for a live session of a device that requires supervision
    ...(device?.policy.supervision === 'required' && !s.endedAt ? { supervisors: await currentSupervisors(deps, s.id) } : {}) };
}

/** Kill switch for one session: approvers of the device's department and admins. */
export async function terminateSession(deps: CoreDeps, actor: Actor, id: string, reason: string): Promise<Session> {
  const user = requireRole(actor, 'approver', 'admin');
  const s = await deps.store.read.sessions.byId(id);
  if (!s) throw notFound('session');
  const device = await deps.store.read.devices.byId(s.deviceId);
  if (!hasRole(user, 'admin') && device?.policy.approverDepartment !== user.department) throw notFound('session');
  if (s.endedAt) throw conflict('session has already ended');
  await deps.store.transaction((tx) =>
    tx.audit.append(
      { ...auditActor(actor), action: 'session.terminated', subjectType: 'session', subjectId: id, details: { reason, grantId: s.grantId } },
      deps.clock.now(),
    ),
  );
  await deps.bus.publish({ type: 'session.terminate', sessionId: id, message: `terminated by ${user.displayName}: ${reason}` });
  return s;
}

/** Auditors and admins read recordings; every access is audited before the file is served. */
export async function accessRecording(deps: CoreDeps, actor: Actor, sessionId: string): Promise<Recording> {
  requireOversight(actor);
  const rec = await deps.store.read.recordings.bySession(sessionId);
  if (!rec) throw notFound('recording');
  await deps.store.transaction((tx) =>
    tx.audit.append(
      { ...auditActor(actor), action: 'recording.accessed', subjectType: 'session', subjectId: sessionId,
        details: { sha256: rec.sha256, finalised: rec.finalisedAt !== null } },
      deps.clock.now(),
    ),
  );
  return rec;
}
