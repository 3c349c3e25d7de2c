/**
 * Ports of the access workflow: durable scheduling, the revocation bus proxies listen on, and
 * notifications. Implementations: server/jobs (BullMQ on Redis or PostgreSQL), server/bus
 * (Redis pub/sub or PostgreSQL LISTEN/NOTIFY), server/notify (log, Slack).
 */

/** What a scheduled job asks the workflow to do. `dueAt` is ISO time; handlers re-check state. */
export type JobSpec =
  | { kind: 'grant.activate'; grantId: string; dueAt: string }
  | { kind: 'grant.warn'; grantId: string; minutesLeft: 5 | 1; dueAt: string }
  | { kind: 'grant.expire'; grantId: string; dueAt: string }
  | { kind: 'request.expire'; requestId: string; dueAt: string }
  /** a break-glass grant's review is due: escalated if nobody has reviewed it */
  | { kind: 'grant.review_overdue'; grantId: string; dueAt: string }
  /** rotate a `key` device's login key (after a grant ends, or when it is CREDENTIAL_MAX_AGE_DAYS old) */
  | { kind: 'credential.rotate'; deviceId: string; dueAt: string }
  /** an account's end (an invited vendor account): its tokens, grants and pending requests end */
  | { kind: 'user.expire'; userId: string; dueAt: string };

/** A job without its time: what identifies it. */
export type JobKey = JobSpec extends infer J ? (J extends JobSpec ? Omit<J, 'dueAt'> : never) : never;

/** Deterministic job ids: one job per (kind, subject); never all digits, never containing ':'. */
export function jobId(job: JobKey): string {
  switch (job.kind) {
    case 'grant.activate':
      return `grant-activate-${job.grantId}`;
    case 'grant.warn':
      return `grant-warn${job.minutesLeft}-${job.grantId}`;
    case 'grant.expire':
      return `grant-expire-${job.grantId}`;
    case 'request.expire':
      return `request-expire-${job.requestId}`;
    case 'grant.review_overdue':
      return `grant-review-overdue-${job.grantId}`;
    case 'credential.rotate':
      return `credential-rotate-${job.deviceId}`;
    case 'user.expire':
      return `user-expire-${job.userId}`;
  }
}

export interface Scheduler {
  /** adds the job to run at dueAt (at once if due); a job with the same id already waiting is replaced */
  schedule(job: JobSpec): Promise<void>;
  /** adds the job unless one with its id is already waiting (used by start-up reconciliation) */
  ensure(job: JobSpec): Promise<void>;
  /** removes waiting jobs by id; ids with no job are ignored */
  cancel(jobIds: string[]): Promise<void>;
}

/** Which try of a job this is: a handler tells people of a failure only on the last one. */
export interface JobAttempt {
  attempt: number;
  lastAttempt: boolean;
}

export type JobHandler = (job: JobSpec, attempt?: JobAttempt) => Promise<void>;

/** Events every proxy process subscribes to, so live sessions are cut within a second. */
export type RevocationEvent =
  /** `early`: published before the ending transaction committed; the same event without it follows the commit (effects.ts) */
  | { type: 'grant.ended'; grantIds: string[]; reason: 'expired' | 'revoked'; message: string; early?: true }
  | { type: 'grant.extended'; grantId: string; endsAt: string }
  | { type: 'session.terminate'; sessionId: string; message: string }
  /** a supervisor joined or left the session: the proxy relaying it reads who supervises now */
  | { type: 'session.supervision'; sessionId: string };

export interface RevocationBus {
  publish(event: RevocationEvent): Promise<void>;
  /**
   * Resolves once subscribed; the returned function unsubscribes. `onResubscribed` is told after the
   * transport lost its subscription and has it again: messages sent meanwhile are lost, so the
   * subscriber re-reads what it holds (the proxy re-checks its live grants).
   */
  subscribe(handler: (event: RevocationEvent) => void, opts?: { onResubscribed?: () => void }): Promise<() => Promise<void>>;
}

/** Human-readable context for notifications: names, never bare ids only. */
export interface RequestContext {
  requestId: string;
  kind: 'access' | 'extension' | 'break_glass';
  device: { id: string; name: string; department: string; criticality: string; approverDepartment: string };
  vendor: { id: string; name: string } | null;
  technician: { id: string; username: string; displayName: string; slackUserId: string | null };
  reason: string;
  ticketRef: string;
  startsAt: string | null;
  durationMinutes: number;
  approvalsRequired: number;
  approvalsSoFar: number;
  /** files the request declares it will deliver (§8.3) */
  artifacts?: { name: string; sha256: string; sizeBytes?: number }[];
}

export type NotifyEvent =
  /**
   * Break-glass (§8.6), told loudly to every eligible approver: opened (at once), review overdue
   * (escalation), reviewed. `request` is the emergency's request record (kind `break_glass`).
   */
  | { type: 'grant.emergency'; stage: 'opened' | 'review_overdue' | 'reviewed'; request: RequestContext; grant: EmergencyContext;
      review?: { outcome: 'justified' | 'unjustified'; comment: string; reviewer: { id: string; displayName: string } } }
  | { type: 'request.created'; request: RequestContext }
  | { type: 'request.decided'; request: RequestContext; decision: 'approve' | 'deny'; approver: { id: string; displayName: string }; outcome: 'pending' | 'approved' | 'denied'; comment: string | null }
  | { type: 'request.closed'; request: RequestContext; status: 'expired' | 'cancelled' }
  | { type: 'grant.changed'; grantId: string; request: RequestContext; status: 'scheduled' | 'active' | 'expired' | 'revoked' | 'extended'; startsAt: string; endsAt: string; reason?: string }
  | { type: 'session.started'; session: SessionContext; at: string }
  | { type: 'session.ended'; session: SessionContext; at: string; endReason: string }
  | { type: 'transfer.undeclared'; session: SessionContext; at: string; transfer: { id: string; path: string; bytes: number; sha256: string | null; outcome: string } }
  /**
   * A device's login key could not be rotated after the retries (§8.4): the old key is still in place,
   * the device is flagged, and its approvers are told.
   */
  | { type: 'credential.rotation_failed'; device: { id: string; name: string; department: string; approverDepartment: string };
      reason: string; attempts: number; at: string; approvers: { id: string; displayName: string; slackUserId: string | null }[] }
  /**
   * A device presented another host key than its pin (§8.4): the connection was refused and the key is
   * pending; an approver of the device (or an admin) compares it and confirms the re-pin in the console.
   */
  | { type: 'device.host_key_changed'; device: { id: string; name: string; department: string; approverDepartment: string };
      keyType: string; fingerprint: string; pinnedFingerprint: string; seenBy: string; at: string;
      approvers: { id: string; displayName: string; slackUserId: string | null }[] };

/** A break-glass grant for notifications, with everyone who must hear of it. */
export interface EmergencyContext {
  grantId: string;
  status: 'scheduled' | 'active' | 'expired' | 'revoked';
  startsAt: string;
  endsAt: string;
  reviewDueAt: string;
  /** every eligible approver of the device: enabled, of its approver department, not the technician */
  approvers: { id: string; displayName: string; slackUserId: string | null }[];
}

/** A proxied session, for notifications: the grant it runs on, the device and the technician by name. */
export interface SessionContext {
  sessionId: string;
  grantId: string;
  /** the access request the grant came from */
  requestId: string;
  channel: string;
  device: { id: string; name: string };
  technician: { id: string; username: string; displayName: string };
}

export interface Notifier {
  notify(event: NotifyEvent): Promise<void>;
}
