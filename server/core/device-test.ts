/**
 * Device connection tests: before a staged device is deployed, and whenever an admin asks.
 * Invariants: a test runs outside any transaction (it waits on the network) and never changes the
 * lifecycle; its result is kept on the device and audited (`device.tested`) whatever it is; the
 * credential is decrypted for the test only; a device without a pin or a credential fails without a
 * connection attempt.
 */
import { auditActor, requireRole } from './access.js';
import { conflict, notFound } from './errors.js';
import type { CoreDeps } from './ports.js';
import { recordHostKeyMismatch } from './host-key-changes.js';
import { openDeviceCredential } from './sessions.js';
import type { Actor, Device, DeviceTestResult } from './types.js';

async function outcomeFor(deps: CoreDeps, device: Device) {
  if (!device.hostKey) return { ok: false as const, reason: 'no pinned host key' };
  if (!device.hasCredential) return { ok: false as const, reason: 'no vaulted credential' };
  const credential = await openDeviceCredential(deps, device.id);
  return deps.deviceTester.test(device, credential);
}

/** Tests `device` now, keeps and audits the result. The caller has checked the actor may. */
export async function runDeviceTest(deps: CoreDeps, actor: Actor, device: Device): Promise<DeviceTestResult> {
  const outcome = await outcomeFor(deps, device);
  if (!outcome.ok && outcome.presentedHostKey) {
    await recordHostKeyMismatch(deps, device, outcome.presentedHostKey, { kind: 'test', actorId: auditActor(actor).actorId });
  }
  const at = deps.clock.now();
  const result: DeviceTestResult = { at, ok: outcome.ok, reason: outcome.ok ? null : outcome.reason.slice(0, 500) };
  await deps.store.transaction(async (tx) => {
    await tx.devices.recordTest(device.id, result);
    await tx.audit.append(
      { ...auditActor(actor), action: 'device.tested', subjectType: 'device', subjectId: device.id,
        details: { name: device.name, ok: result.ok, reason: result.reason, address: device.address, sshPort: device.sshPort } },
      at,
    );
  });
  return result;
}

/** `POST /api/devices/:id/test` (admin): the same test as before deployment, on demand, in any state but retired. */
export async function testDevice(deps: CoreDeps, actor: Actor, id: string): Promise<DeviceTestResult> {
  requireRole(actor, 'admin');
  const device = await deps.store.read.devices.byId(id);
  if (!device) throw notFound('device');
  if (device.lifecycleState === 'retired') throw conflict('device is retired; its record is kept for audit only');
  return runDeviceTest(deps, actor, device);
}
