/**
 * Devices as managed identities: trust record, access policy, vaulted credential, lifecycle.
 * Invariants: the credential is sealed before it reaches the store and is never returned;
 * critical devices default to two approvals; retirement is final and destroys the credential;
 * every change is audited in the same transaction as the change.
 */
import { auditActor, requireRole } from './access.js';
import { canSeeDevice } from './scope.js';
import { conflict, invalid, notFound } from './errors.js';
import { inTransaction } from './effects.js';
import { runDeviceTest } from './device-test.js';
import { storeCredential } from './device-credentials.js';
import { assertTransition } from './lifecycle.js';
import { expandPolicyAliases, withSftpAlias } from './transfer-policy.js';
import { cancelPendingRequests, endGrants } from './revocation.js';
import type { CoreDeps, DeviceFilter, DevicePatch, NewDevice, Tx } from './ports.js';
import type { Actor, Criticality, Device, DeviceCredentialInput, DevicePolicy, LifecycleState } from './types.js';

export interface CreateDeviceInput extends Omit<NewDevice, 'policy' | 'serialNumber' | 'hostKey' | 'sshPort'> {
  serialNumber?: string | null;
  hostKey?: string | null;
  sshPort?: number;
  policy: Partial<DevicePolicy> & { approverDepartment?: string };
  vendorIds?: string[];
  credential?: DeviceCredentialInput;
}

export interface UpdateDeviceInput extends DevicePatch {
  vendorIds?: string[];
  credential?: DeviceCredentialInput;
}

/** Default policy: shell and exec only; critical devices need two approvers. */
export function defaultPolicy(criticality: Criticality, department: string): DevicePolicy {
  return {
    maxSessionMinutes: 60,
    approvalsRequired: criticality === 'critical' ? 2 : 1,
    approverDepartment: department,
    maintenanceWindow: null,
    allowExec: true,
    allowPortForwarding: false,
    forwardPorts: [],
    idleTimeoutMinutes: 15,
    supervision: criticality === 'critical' ? 'required' : 'none',
    allowUpload: false,
    allowDownload: false,
    transferPaths: [],
    maxTransferMiB: 4096,
    breakGlass: false,
    breakGlassMaxMinutes: 30,
    allowSftp: false,
  };
}

// credentials of every kind (§8.4) are set in device-credentials.ts
export { credentialAad } from './device-credentials.js';

async function checkVendors(tx: Tx, vendorIds: string[]): Promise<void> {
  for (const id of vendorIds) {
    if (!(await tx.vendors.byId(id))) throw invalid(`vendorIds: ${id} does not name a vendor`);
  }
}

export async function createDevice(deps: CoreDeps, actor: Actor, input: CreateDeviceInput): Promise<Device> {
  requireRole(actor, 'admin');
  const { credential, vendorIds = [], policy: policyInput, ...record } = input;
  const policy = withSftpAlias({ ...defaultPolicy(record.criticality, record.department), ...expandPolicyAliases(policyInput) });
  return deps.store.transaction(async (tx) => {
    await checkVendors(tx, vendorIds);
    const created = await tx.devices.insert({
      ...record,
      serialNumber: record.serialNumber ?? null,
      hostKey: record.hostKey ?? null,
      sshPort: record.sshPort ?? 22,
      policy,
    });
    if (vendorIds.length) await tx.devices.setVendors(created.id, vendorIds);
    await tx.audit.append(
      { ...auditActor(actor), action: 'device.enrolled', subjectType: 'device', subjectId: created.id,
        details: { name: created.name, model: created.model, department: created.department,
          criticality: created.criticality, firmwareBaseline: created.firmwareBaseline, hostKeyPinned: !!created.hostKey,
          policy, vendorIds } },
      deps.clock.now(),
    );
    if (credential) await storeCredential(deps, tx, actor, created.id, credential);
    return (await tx.devices.byId(created.id))!;
  });
}

export async function updateDevice(deps: CoreDeps, actor: Actor, id: string, input: UpdateDeviceInput): Promise<Device> {
  requireRole(actor, 'admin');
  const { credential, vendorIds, ...patch } = input;
  return inTransaction(deps, async (tx, fx) => {
    const before = await tx.devices.byId(id, { forUpdate: true });
    if (!before) throw notFound('device');
    if (before.lifecycleState === 'retired') throw conflict('device is retired; its record is kept for audit only');
    if (before.lifecycleState === 'deployed' && patch.hostKey === null) {
      throw conflict('a deployed device must keep a pinned host key; suspend it first');
    }
    if (vendorIds) {
      await checkVendors(tx, vendorIds);
      await tx.devices.setVendors(id, vendorIds);
      for (const removed of before.vendorIds.filter((v) => !vendorIds.includes(v))) {
        const reason = 'vendor no longer services this device';
        await endGrants(tx, fx, { deviceId: id, vendorId: removed }, { status: 'revoked', reason, actor, at: deps.clock.now() });
        await cancelPendingRequests(tx, fx, { deviceId: id, vendorId: removed }, { reason, actor, at: deps.clock.now() });
      }
    }
    if (Object.keys(patch).length) await tx.devices.update(id, patch);
    const changed = [...Object.keys(patch), ...(vendorIds ? ['vendorIds'] : [])];
    if (changed.length) {
      await tx.audit.append(
        { ...auditActor(actor), action: 'device.updated', subjectType: 'device', subjectId: id,
          details: { changed, ...patch, ...(vendorIds ? { vendorIds } : {}),
            ...(patch.hostKey !== undefined && patch.hostKey !== before.hostKey ? { hostKeyChangedFrom: before.hostKey } : {}) } },
        deps.clock.now(),
      );
    }
    if (credential) await storeCredential(deps, tx, actor, id, credential);
    return (await tx.devices.byId(id))!;
  });
}

/**
 * Moves a device through its lifecycle. Leaving `deployed` ends every grant on it at once (live
 * sessions are cut by the proxies); retiring also cancels pending requests and destroys the credential.
 * `staged → deployed` first tests the device (device-test.ts): a failure is a 409 with the reason, and
 * the device stays staged.
 */
export async function transitionDevice(
  deps: CoreDeps,
  actor: Actor,
  id: string,
  input: { state: LifecycleState; reason: string },
): Promise<Device> {
  requireRole(actor, 'admin');
  const tested = input.state === 'deployed' ? await testBeforeDeploying(deps, actor, id) : null;
  return inTransaction(deps, async (tx, fx) => {
    const device = await tx.devices.byId(id, { forUpdate: true });
    if (!device) throw notFound('device');
    assertTransition(device, input.state);
    if (tested && (device.address !== tested.address || device.sshPort !== tested.sshPort || device.hostKey !== tested.hostKey)) {
      throw conflict('the device record changed while it was being tested; try again');
    }
    const now = deps.clock.now();
    const moved = await tx.devices.transition(id, device.lifecycleState, input.state, now);
    if (!moved) throw notFound('device');
    await tx.audit.append(
      { ...auditActor(actor), action: input.state === 'retired' ? 'device.retired' : 'device.lifecycle_changed',
        subjectType: 'device', subjectId: id,
        details: { name: device.name, from: device.lifecycleState, to: input.state, reason: input.reason } },
      now,
    );
    if (input.state !== 'deployed') {
      const reason = `device ${input.state}: ${input.reason}`;
      await endGrants(tx, fx, { deviceId: id }, { status: 'revoked', reason, actor, at: now });
      if (input.state === 'retired') await cancelPendingRequests(tx, fx, { deviceId: id }, { reason, actor, at: now });
    }
    if (input.state === 'retired' && (await tx.credentials.destroy(id))) {
      await tx.audit.append(
        { ...auditActor(actor), action: 'device.credential_destroyed', subjectType: 'device', subjectId: id,
          details: { name: device.name, reason: 'device retired' } },
        now,
      );
    }
    return (await tx.devices.byId(id))!;
  });
}

/** A staged device about to be deployed is tested first (outside the transaction: it waits on the network). */
async function testBeforeDeploying(deps: CoreDeps, actor: Actor, id: string): Promise<Device | null> {
  const device = await deps.store.read.devices.byId(id);
  if (!device || device.lifecycleState !== 'staged') return null;
  assertTransition(device, 'deployed'); // no pin or no credential: refused without a test
  const result = await runDeviceTest(deps, actor, device);
  if (!result.ok) throw conflict(`the device failed its connection test: ${result.reason}`, { test: result });
  return device;
}

export async function listDevices(deps: CoreDeps, actor: Actor, filter: DeviceFilter): Promise<Device[]> {
  const user = requireRole(actor, 'admin', 'auditor', 'approver', 'technician');
  const all = await deps.store.read.devices.list(filter);
  return all.filter((d) => canSeeDevice(user, d));
}

export async function getDevice(deps: CoreDeps, actor: Actor, id: string): Promise<Device> {
  const user = requireRole(actor, 'admin', 'auditor', 'approver', 'technician');
  const device = await deps.store.read.devices.byId(id);
  // a device the caller may not see does not exist for them
  if (!device || !canSeeDevice(user, device)) throw notFound('device');
  return device;
}

