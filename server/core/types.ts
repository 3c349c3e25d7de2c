/** Domain types shared by the control plane and the proxy. Plain data: no behaviour, no I/O. */

export const ROLES = ['admin', 'approver', 'auditor', 'technician'] as const;
export type RoleName = (typeof ROLES)[number];

export const LIFECYCLE_STATES = ['staged', 'deployed', 'suspended', 'retired'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Criticality = (typeof CRITICALITIES)[number];

export interface Vendor {
  id: string;
  name: string;
  contractRef: string;
  /** ISO date (YYYY-MM-DD); the last day access is allowed */
  contractEnd: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface User {
  id: string;
  username: string;
  displayName: string;
  roles: RoleName[];
  vendorId: string | null;
  department: string | null;
  slackUserId: string | null;
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Only what authentication needs; never leaves the core. */
export interface UserSecret {
  passwordHash: string;
  failedLogins: number;
  lockedUntil: Date | null;
}

/** Allowed hours for sessions, in the hospital's time zone. Days: 1 = Monday … 7 = Sunday. */
export interface MaintenanceWindow {
  days: number[];
  start: string; // HH:MM
  end: string; // HH:MM, may be before start to cross midnight
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
  /** pinned OpenSSH public host key line ("ssh-ed25519 AAAA…") */
  hostKey: string | null;
  lifecycleState: LifecycleState;
  policy: DevicePolicy;
  vendorIds: string[];
  /** whether a vaulted credential is set; the credential itself never leaves the vault */
  hasCredential: boolean;
  retiredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export type DeviceCredentialInput =
  | { username: string; password: string; privateKey?: undefined }
  | { username: string; privateKey: string; password?: undefined };

/** A decrypted device credential: lives in memory only, for one onward connection. */
export interface DeviceCredential {
  username: string;
  kind: 'password' | 'private_key';
  secret: string;
}

export type ActorType = 'user' | 'system' | 'device' | 'anonymous';

/** Who is acting. A user actor carries the roles it was authenticated with. */
export type Actor =
  | { type: 'user'; user: User }
  | { type: 'system'; name: string }
  | { type: 'anonymous'; label?: string };

export interface AuditEventInput {
  actorType: ActorType;
  actorId: string | null;
  action: string;
  subjectType: string | null;
  subjectId: string | null;
  details: Record<string, unknown>;
}

export interface AuditEvent extends AuditEventInput {
  seq: number;
  at: Date;
  prevHash: string;
  hash: string;
}

export const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export interface AccessRequest {
  id: string;
  kind: 'access' | 'extension';
  technicianId: string;
  deviceId: string;
  extendsGrantId: string | null;
  reason: string;
  ticketRef: string;
  /** requested window start; for `startsOnApproval` requests the window starts at the last approval */
  startsAt: Date;
  startsOnApproval: boolean;
  durationMinutes: number;
  approvalsRequired: number;
  status: RequestStatus;
  expiresAt: Date;
  closedAt: Date | null;
  createdAt: Date;
}

export interface Decision {
  id: string;
  requestId: string;
  approverId: string;
  decision: 'approve' | 'deny';
  comment: string | null;
  channel: 'web' | 'slack-link';
  createdAt: Date;
}

export const GRANT_STATUSES = ['scheduled', 'active', 'expired', 'revoked'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

export interface Grant {
  id: string;
  requestId: string;
  technicianId: string;
  deviceId: string;
  status: GrantStatus;
  startsAt: Date;
  endsAt: Date;
  activatedAt: Date | null;
  endedAt: Date | null;
  revokedBy: string | null;
  endReason: string | null;
  warned5At: Date | null;
  warned1At: Date | null;
  createdAt: Date;
}

export const SESSION_END_REASONS = ['client_closed', 'device_closed', 'expired', 'revoked', 'error'] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];
export type SessionChannel = 'shell' | 'exec' | 'browser' | 'sftp' | 'forward';

export interface Session {
  id: string;
  grantId: string;
  technicianId: string;
  deviceId: string;
  channel: SessionChannel;
  command: string | null;
  clientAddress: string | null;
  startedAt: Date;
  endedAt: Date | null;
  endReason: SessionEndReason | null;
  bytesIn: number;
  bytesOut: number;
}

export interface Recording {
  id: string;
  sessionId: string;
  path: string;
  sizeBytes: number | null;
  durationMs: number | null;
  sha256: string | null;
  createdAt: Date;
  finalisedAt: Date | null;
}

export interface CredentialIssue {
  id: string;
  grantId: string;
  kind: 'ssh_certificate' | 'terminal_token';
  serial: number;
  keyFingerprint: string | null;
  tokenId: string | null;
  validAfter: Date;
  validBefore: Date;
  usedAt: Date | null;
  issuedAt: Date;
}
