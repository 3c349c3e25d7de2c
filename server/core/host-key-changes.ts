/**
 * Host key changes (§8.4): a device presenting another host key than its pin is refused (the proxy and
 * the connection test do that); the key it presented is recorded here as the device's pending change,
 * audited and told to its approvers, and an approver of the device (or an admin) confirms the re-pin.
 *
 * Invariants:
 * - nothing here lets a connection through: only a confirmed re-pin changes the pin;
 * - at most one change per device is pending, the key seen last; a confirmation names its fingerprint,
 *   so one given for a key that has changed again since (or for a pin changed by hand) is refused;
 * - the re-pin is one transaction: the pin, the change's status and the `device.host_key_repinned`
 *   audit event (old and new fingerprints) commit together.
 */
import { createHash } from 'node:crypto';
import { auditActor, hasRole, isEligibleApprover, requireRole } from './access.js';
import { inTransaction } from './effects.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import type { CoreDeps, HostKeyChange, HostKeySighting, PresentedHostKey } from './ports.js';
import { approvesForDevice, seesEverything } from './scope.js';
import { requireRecentMfa, type StepUpProof } from './step-up.js';
import type { Actor, Device, User } from './types.js';

/** The SHA256 fingerprint of an OpenSSH public key line, as `ssh-keygen -l` prints it. */
export function hostKeyFingerprint(line: string): string {
  const blob = Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64');
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

const keyTypeOf = (line: string) => line.trim().split(/\s+/)[0] ?? '';

const describeSighting = (by: HostKeySighting) =>
  by.kind === 'session' ? `a connection of grant ${by.grantId}` : by.kind === 'rotation' ? 'a credential rotation' : 'a connection test';

/** Who the `device.host_key_changed` event names as its actor: the device for a session, else the system part that saw it. */
const sightingActor = (by: HostKeySighting, device: Device) =>
  by.kind === 'session' ? { actorType: 'device' as const, actorId: device.id }
    : { actorType: 'system' as const, actorId: by.kind === 'rotation' ? 'credential-rotation' : 'device-test' };

/** Who may see a device's host key status: admins and auditors, approvers of the device. */
const canSeeHostKeys = (user: User, device: Device) => seesEverything(user) || approvesForDevice(user, device);

/** Who may confirm a re-pin: an admin, or an enabled approver of the device. */
const canRepin = (user: User, device: Device) => hasRole(user, 'admin') || (user.disabledAt === null && approvesForDevice(user, device));

/**
 * Records the key a device presented instead of its pin (called after the connection was refused).
 * A new change is audited `device.host_key_changed` and told to the device's approvers; the same key
 * seen again only counts the sighting.
 */
export async function recordHostKeyMismatch(deps: CoreDeps, device: Device, presented: PresentedHostKey, by: HostKeySighting): Promise<HostKeyChange | null> {
  if (!device.hostKey) return null;
  const pinnedFingerprint = hostKeyFingerprint(device.hostKey);
  if (presented.fingerprint === pinnedFingerprint) return null;
  const at = deps.clock.now();
  return inTransaction(deps, async (tx, fx) => {
    const { change, created, superseded } = await tx.hostKeyChanges.recordSighting(device.id, { ...presented, pinnedFingerprint }, by, at);
    if (!created) return change;
    await tx.audit.append(
      { ...sightingActor(by, device),
        action: 'device.host_key_changed', subjectType: 'device', subjectId: device.id,
        details: { name: device.name, keyType: presented.keyType, fingerprint: presented.fingerprint, publicKey: presented.publicKey,
          pinnedFingerprint, seenBy: by, ...(superseded ? { supersededFingerprint: superseded.fingerprint } : {}) } },
      at,
    );
    const approvers = (await tx.users.list({ role: 'approver', includeDisabled: false }))
      .filter((u) => isEligibleApprover(u, device, null))
      .map((u) => ({ id: u.id, displayName: u.displayName, slackUserId: u.slackUserId }));
    fx.notify({
      type: 'device.host_key_changed', keyType: presented.keyType, fingerprint: presented.fingerprint, pinnedFingerprint,
      seenBy: describeSighting(by), at: at.toISOString(), approvers,
      device: { id: device.id, name: device.name, department: device.department, approverDepartment: device.policy.approverDepartment },
    });
    return change;
  });
}

export interface HostKeyStatus {
  deviceId: string;
  deviceName: string;
  department: string;
  /** the pinned key; null when none is pinned */
  pinned: PresentedHostKey | null;
  /** the key the device presented instead, waiting for a re-pin */
  pending: HostKeyChange | null;
  /** whether the caller may confirm the re-pin */
  canRepin: boolean;
}

function statusOf(user: User, device: Device, change: HostKeyChange | null): HostKeyStatus {
  // a change seen against a pin an admin has replaced by hand since is moot (a confirmation would be refused)
  const pending = change && device.hostKey && hostKeyFingerprint(device.hostKey) === change.pinnedFingerprint ? change : null;
  return {
    deviceId: device.id, deviceName: device.name, department: device.department,
    pinned: device.hostKey ? { keyType: keyTypeOf(device.hostKey), fingerprint: hostKeyFingerprint(device.hostKey), publicKey: device.hostKey.trim() } : null,
    pending, canRepin: pending !== null && canRepin(user, device),
  };
}

async function visibleDevice(deps: CoreDeps, user: User, deviceId: string): Promise<Device> {
  const device = await deps.store.read.devices.byId(deviceId);
  if (!device || !canSeeHostKeys(user, device)) throw notFound('device');
  return device;
}

/** `GET /api/devices/:id/host-key` (admin, auditor, the device's approvers): the pin and any pending change. */
export async function hostKeyStatus(deps: CoreDeps, actor: Actor, deviceId: string): Promise<HostKeyStatus> {
  const user = requireRole(actor, 'admin', 'auditor', 'approver');
  const device = await visibleDevice(deps, user, deviceId);
  return statusOf(user, device, await deps.store.read.hostKeyChanges.pending(device.id));
}

/** `GET /api/host-key-changes` (admin, auditor, approvers): the pending changes of the devices the caller may see. */
export async function listHostKeyChanges(deps: CoreDeps, actor: Actor): Promise<{ items: HostKeyStatus[] }> {
  const user = requireRole(actor, 'admin', 'auditor', 'approver');
  const items: HostKeyStatus[] = [];
  for (const change of await deps.store.read.hostKeyChanges.listPending()) {
    const device = await deps.store.read.devices.byId(change.deviceId);
    if (!device || device.lifecycleState === 'retired' || !canSeeHostKeys(user, device)) continue;
    const status = statusOf(user, device, change);
    if (status.pending) items.push(status);
  }
  return { items };
}

/**
 * `POST /api/devices/:id/host-key/repin {fingerprint}`: pins the pending key, if `fingerprint` is still
 * the pending one's and the pin is still the one it was seen against. Audited `device.host_key_repinned`.
 */
export async function repinHostKey(deps: CoreDeps, actor: Actor, deviceId: string, input: { fingerprint: string; stepUp?: StepUpProof }): Promise<HostKeyStatus> {
  const user = requireRole(actor, 'admin', 'approver');
  if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(input.fingerprint)) throw invalid('fingerprint must be a SHA256 fingerprint (SHA256:…)');
  const device = await visibleDevice(deps, user, deviceId);
  if (!canRepin(user, device)) throw forbidden('only an admin or an approver of the device\'s department confirms a re-pin');
  // trusting a new device identity is a decision like an approval: a fresh second factor (§8.5)
  const stepUp = await requireRecentMfa(deps, actor, input.stepUp);
  const at = deps.clock.now();
  return inTransaction(deps, async (tx) => {
    const locked = await tx.devices.byId(device.id, { forUpdate: true });
    if (!locked) throw notFound('device');
    if (locked.lifecycleState === 'retired') throw conflict('device is retired; its record is kept for audit only');
    const pending = await tx.hostKeyChanges.pending(locked.id);
    if (!pending) throw conflict('the device has no pending host key change');
    if (pending.fingerprint !== input.fingerprint) {
      throw conflict(`the device's host key changed again: the pending key is now ${pending.fingerprint}; compare it and confirm that one`);
    }
    const oldFingerprint = locked.hostKey ? hostKeyFingerprint(locked.hostKey) : null;
    if (oldFingerprint !== pending.pinnedFingerprint) throw conflict('the pinned key was changed since this key was seen; test the device again');
    const resolved = await tx.hostKeyChanges.resolve(locked.id, pending.fingerprint, user.id, at);
    if (!resolved) throw conflict('the pending host key change was resolved meanwhile');
    const updated = await tx.devices.update(locked.id, { hostKey: pending.publicKey });
    await tx.audit.append(
      { ...auditActor(actor), action: 'device.host_key_repinned', subjectType: 'device', subjectId: locked.id,
        details: { name: locked.name, oldFingerprint, newFingerprint: pending.fingerprint, keyType: pending.keyType, changeId: pending.id,
          firstSeenAt: pending.firstSeenAt.toISOString(), stepUp: stepUp && { method: stepUp.method, credentialId: stepUp.credentialId, via: stepUp.via } } },
      at,
    );
    return statusOf(user, updated ?? locked, null);
  });
}
