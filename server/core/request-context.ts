/** Builds the human-readable context of a request for notifications: names, not bare ids. */
import type { Tx } from './ports.js';
import type { AccessRequest } from './types.js';
import type { RequestContext } from './workflow-ports.js';

export async function requestContext(tx: Tx, req: AccessRequest): Promise<RequestContext> {
  // one after another: a transaction's connection runs one query at a time
  const device = await tx.devices.byId(req.deviceId);
  const technician = await tx.users.byId(req.technicianId);
  const decisions = await tx.decisions.forRequest(req.id);
  const vendor = technician?.vendorId ? await tx.vendors.byId(technician.vendorId) : null;
  return {
    requestId: req.id,
    kind: req.kind,
    device: {
      id: req.deviceId,
      name: device?.name ?? '(unknown device)',
      department: device?.department ?? '',
      criticality: device?.criticality ?? '',
      approverDepartment: device?.policy.approverDepartment ?? '',
    },
    vendor: vendor ? { id: vendor.id, name: vendor.name } : null,
    technician: {
      id: req.technicianId,
      username: technician?.username ?? '(unknown)',
      displayName: technician?.displayName ?? '(unknown)',
      slackUserId: technician?.slackUserId ?? null,
    },
    reason: req.reason,
    ticketRef: req.ticketRef,
    startsAt: req.startsOnApproval ? null : req.startsAt.toISOString(),
    durationMinutes: req.durationMinutes,
    approvalsRequired: req.approvalsRequired,
    approvalsSoFar: decisions.filter((d) => d.decision === 'approve').length,
    artifacts: req.artifacts,
  };
}
