// The API's shapes as the browser receives them: JSON, so times are ISO strings.

export const ROLES = ['admin', 'approver', 'auditor', 'technician'] as const;
export type Role = (typeof ROLES)[number];
export const LIFECYCLE_STATES = ['staged', 'deployed', 'suspended', 'retired'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];
export const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Criticality = (typeof CRITICALITIES)[number];
export const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
export const GRANT_STATUSES = ['scheduled', 'active', 'expired', 'revoked'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];
export const END_REASONS = ['client_closed', 'device_closed', 'expired', 'revoked', 'error'] as const;
export type EndReason = (typeof END_REASONS)[number];

export interface User {
  id: string;
  username: string;
  displayName: string;
  roles: Role[];
  vendorId: string | null;
  department: string | null;
  slackUserId: string | null;
  disabledAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Vendor {
  id: string;
  name: string;
  contractRef: string;
  contractEnd: string;
  createdAt: string;
  updatedAt: string;
}

export interface MaintenanceWindow {
  days: number[];
  start: string;
  end: string;
  timezone: string;
}

export interface DevicePolicy {
  maxSessionMinutes: number;
  approvalsRequired: 1 | 2;
  approverDepartment: string;
  maintenanceWindow: MaintenanceWindow | null;
  allowExec: boolean;
  allowPortForwarding: boolean;
  allowSftp: boolean;
}

export interface Device {
  id: string;
  name: string;
  manufacturer: string;
  model: string;
  serialNumber: string | null;
  firmwareBaseline: string;
  department: string;
  clinicalPurpose: string;
  criticality: Criticality;
  address: string;
  sshPort: number;
  hostKey: string | null;
  lifecycleState: LifecycleState;
  policy: DevicePolicy;
  vendorIds: string[];
  hasCredential: boolean;
  retiredAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Names the broker may attach to a request (the notifications' request context). */
export interface RequestContext {
  device?: { id: string; name: string; department?: string; criticality?: string };
  vendor?: { id: string; name: string } | null;
  technician?: { id: string; username: string; displayName: string };
  approvalsSoFar?: number;
}

export interface AccessRequest {
  id: string;
  kind: 'access' | 'extension';
  technicianId: string;
  deviceId: string;
  extendsGrantId: string | null;
  reason: string;
  ticketRef: string;
  startsAt: string;
  startsOnApproval: boolean;
  durationMinutes: number;
  approvalsRequired: number;
  status: RequestStatus;
  expiresAt: string;
  closedAt: string | null;
  createdAt: string;
  context?: RequestContext;
}

export interface Decision {
  id: string;
  requestId: string;
  approverId: string;
  decision: 'approve' | 'deny';
  comment: string | null;
  channel: 'web' | 'slack-link';
  createdAt: string;
  approver?: { id: string; displayName: string; username?: string };
}

export interface Grant {
  id: string;
  requestId: string;
  technicianId: string;
  deviceId: string;
  status: GrantStatus;
  startsAt: string;
  endsAt: string;
  activatedAt: string | null;
  endedAt: string | null;
  revokedBy: string | null;
  endReason: string | null;
  createdAt: string;
}

export interface RequestView extends AccessRequest {
  decisions: Decision[];
  grant: Grant | null;
}

export interface Recording {
  id: string;
  sessionId: string;
  sizeBytes: number | null;
  durationMs: number | null;
  sha256: string | null;
  createdAt: string;
  finalisedAt: string | null;
}

export interface Session {
  id: string;
  grantId: string;
  technicianId: string;
  deviceId: string;
  channel: 'shell' | 'exec' | 'browser' | 'sftp' | 'forward';
  command: string | null;
  clientAddress: string | null;
  startedAt: string;
  endedAt: string | null;
  endReason: EndReason | null;
  bytesIn: number;
  bytesOut: number;
  recording?: Recording | null;
  /** names the broker may embed (approvers and auditors cannot list users) */
  technician?: { id: string; username: string; displayName: string; vendorId?: string | null };
}

export interface AuditEvent {
  seq: number;
  at: string;
  actorType: string;
  actorId: string | null;
  action: string;
  subjectType: string | null;
  subjectId: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditVerify {
  ok: boolean;
  count: number;
  headHash: string;
  firstBadSeq?: number;
}

export interface SshCertificate {
  certificate: string;
  principal: string;
  validBefore: string;
  sshCommand: string;
  knownHostsLine: string;
  keyFingerprint: string;
  serial: number;
}

export interface TerminalToken {
  token: string;
  expiresAt: string;
  url: string;
}

export interface Items<T> {
  items: T[];
}
