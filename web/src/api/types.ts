// The API's shapes as the browser receives them: the server's domain types after JSON, so times
// are ISO strings. The enumerations and records come from the server's core, never copied.
import type * as Core from '../../../server/core/types';

export {
  CRITICALITIES,
  GRANT_STATUSES,
  LIFECYCLE_STATES,
  REQUEST_STATUSES,
  ROLES,
  SESSION_END_REASONS as END_REASONS,
} from '../../../server/core/types';

/** A value as JSON carries it: dates become ISO strings, everything else keeps its shape. */
export type Wire<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

export type Role = Core.RoleName;
export type LifecycleState = Core.LifecycleState;
export type Criticality = Core.Criticality;
export type RequestStatus = Core.RequestStatus;
export type GrantStatus = Core.GrantStatus;
export type EndReason = Core.SessionEndReason;

export type User = Wire<Core.User>;

/** The login locks in force on a user (GET /api/users, admins): the account's own and per source address. */
export interface LoginLock {
  accountLockedUntil: string | null;
  lockedSources: { address: string; lockedUntil: string }[];
}
export type UserView = User & { loginLock?: LoginLock | null };
export type Vendor = Wire<Core.Vendor>;
export type MaintenanceWindow = Core.MaintenanceWindow;
export type DevicePolicy = Core.DevicePolicy;
export type Device = Wire<Core.Device>;

/** Names the broker may attach to a request (the notifications' request context). */
export interface RequestContext {
  device?: { id: string; name: string; department?: string; criticality?: string };
  vendor?: { id: string; name: string } | null;
  technician?: { id: string; username: string; displayName: string };
  approvalsSoFar?: number;
}

export type AccessRequest = Wire<Core.AccessRequest> & { context?: RequestContext };

export type Decision = Wire<Core.Decision> & { approver?: { id: string; displayName: string; username?: string } };

export type Grant = Wire<Core.Grant> & {
  /** names the broker embeds (GET /api/grants, GET /api/grants/:id) */
  device?: { id: string; name: string };
  technician?: { id: string; username: string; displayName: string };
  vendor?: { id: string; name: string } | null;
  revoker?: { id: string; displayName: string } | null;
  request?: { id: string; reason: string; ticketRef: string } | null;
};

export type RequestView = AccessRequest & {
  decisions: Decision[];
  grant: Grant | null;
};

export type Recording = Wire<Core.Recording>;

export type Transfer = Wire<Core.Transfer>;

export type Session = Wire<Core.Session> & {
  recording?: Recording | null;
  /** files moved through the SFTP relay in this session (GET /api/sessions/:id) */
  transfers?: Transfer[];
  /** names the broker embeds (approvers and auditors cannot list users) */
  technician?: { id: string; username: string; displayName: string; vendorId?: string | null };
  device?: { id: string; name: string };
  /** the access it ran under: the grant's window and the request's reason and ticket */
  access?: {
    grantId: string; status: GrantStatus; startsAt: string; endsAt: string; emergency: boolean;
    vendor: { id: string; name: string } | null; reason: string | null; ticketRef: string | null;
  } | null;
  /** who cut it and why (GET /api/sessions/:id, for a session that ended as revoked) */
  cut?: { kind: 'terminated' | 'grant_revoked'; by: { id: string; displayName: string } | null; reason: string; at: string } | null;
  /** who supervises it now (GET /api/sessions/:id, live sessions of devices whose policy requires supervision) */
  supervisors?: { userId: string; displayName: string; username: string }[];
};

export type AuditEvent = Wire<Core.AuditEvent>;

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
