/**
 * After the window (§8.3): recording the firmware a grant delivered on the device's trust record.
 * Invariants: only the grant's technician, an eligible approver of the device's department or an
 * admin may record it; only for a grant that was activated and is active or ended at most
 * `FIRMWARE_RECORD_DAYS` days ago (a grant never activated delivered nothing: 409); never on a retired
 * device (its record is kept for audit only: 409). The baseline change and its `device.firmware_updated`
 * audit event, naming the grant and the completed uploads that delivered it, commit together, under
 * the device's row lock so a concurrent retirement or edit waits for it (and this waits for them).
 */
import { auditActor, hasRole, isEligibleApprover, requireUser } from './access.js';
import { mayOversee } from './scope.js';
import { inTransaction } from './effects.js';
import { conflict, forbidden, notFound } from './errors.js';
import type { CoreDeps, Tx } from './ports.js';
import { deviceView, type TechnicianDevice } from './technician-views.js';
import type { Actor, Device, Grant, User } from './types.js';

/** How long after a grant ends its firmware may still be recorded (the vendor's report often follows the window). */
export const FIRMWARE_RECORD_DAYS = 7;
const DAY = 24 * 60 * 60_000;
/** a grant has at most a few sessions; this bounds the read */
const SESSIONS_PER_GRANT = 500;

export interface FirmwareInput {
  version: string;
  note?: string | null;
}

/** An upload named in the audit event: what reached the device in the grant's sessions. */
export interface DeliveredFile {
  id: string;
  path: string;
  sha256: string | null;
  declared: boolean | null;
}

/** Who may record the grant's firmware: its technician, an eligible approver of the device, an admin. */
export function mayRecordFirmware(user: User, grant: Pick<Grant, 'technicianId'>, device: Pick<Device, 'policy'>): boolean {
  return user.id === grant.technicianId || hasRole(user, 'admin') || isEligibleApprover(user, device, grant.technicianId);
}

/** Null when the grant is in the period its firmware may be recorded, else why not. */
export function firmwareWindowProblem(grant: Pick<Grant, 'status' | 'activatedAt' | 'endedAt'>, now: Date): string | null {
  if (grant.activatedAt === null) return 'the grant was never active, so it delivered nothing to record';
  if (grant.status === 'active') return null;
  if (grant.endedAt && now.getTime() - grant.endedAt.getTime() > FIRMWARE_RECORD_DAYS * DAY) {
    return `the grant ended more than ${FIRMWARE_RECORD_DAYS} days ago; ask an admin to edit the device's trust record`;
  }
  return null;
}

async function deliveredFiles(tx: Tx, grantId: string): Promise<DeliveredFile[]> {
  const sessions = await tx.sessions.list({ grantId, limit: SESSIONS_PER_GRANT });
  const files: DeliveredFile[] = [];
  for (const s of sessions.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime())) {
    for (const t of await tx.transfers.forSession(s.id)) {
      if (t.direction === 'upload' && t.outcome === 'complete') files.push({ id: t.id, path: t.path, sha256: t.sha256, declared: t.declared });
    }
  }
  return files;
}

/**
 * `POST /api/grants/:id/firmware`: sets the device's firmware baseline to the version the grant
 * installed and audits the change with the grant and the uploads that delivered it. Returns the
 * device as the caller may see it (technicians get the trimmed view).
 */
export async function recordFirmware(deps: CoreDeps, actor: Actor, grantId: string, input: FirmwareInput): Promise<Device | TechnicianDevice> {
  const user = requireUser(actor);
  const now = deps.clock.now();
  const note = input.note || null; // an empty note is no note
  const updated = await inTransaction(deps, async (tx) => {
    // the grant is read without a lock: once activated it stays eligible whether it is then revoked or
    // expires, and locking it before the device would invert the order retirement takes (device, then grants)
    const g = await tx.grants.byId(grantId);
    if (!g) throw notFound('grant');
    const device = await tx.devices.byId(g.deviceId, { forUpdate: true });
    if (!device) throw notFound('grant');
    if (!mayRecordFirmware(user, g, device)) {
      // those who can read the grant (auditors, the department's approvers) learn why; others see nothing
      if (mayOversee(user, device.policy.approverDepartment)) throw forbidden("only the grant's technician, an approver of the device's department or an admin can record its firmware");
      throw notFound('grant');
    }
    const problem = firmwareWindowProblem(g, now);
    if (problem) throw conflict(problem);
    if (device.lifecycleState === 'retired') throw conflict('device is retired; its record is kept for audit only');
    const previous = device.firmwareBaseline;
    if (previous === input.version) throw conflict(`the device's firmware baseline is already ${previous}`);
    const transfers = await deliveredFiles(tx, g.id);
    const after = await tx.devices.update(device.id, { firmwareBaseline: input.version });
    if (!after) throw conflict('the device changed meanwhile; try again');
    await tx.audit.append(
      { ...auditActor(actor), action: 'device.firmware_updated', subjectType: 'device', subjectId: device.id,
        details: { grantId: g.id, device: device.name, previous, version: input.version, note, transfers } },
      now,
    );
    return after;
  });
  return deviceView(actor, updated);
}
