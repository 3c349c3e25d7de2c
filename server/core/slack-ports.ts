/**
 * The store's Slack repositories, as the core sees them: single-use approval link rows and the Slack
 * messages posted about a request. No transport types here: the PostgreSQL implementations live in
 * server/db, and a link is consumed in the same transaction that records its decision (decideByLink).
 */

export type LinkAction = 'approve' | 'deny';

/** What an approval link is bound to: one request, one approver, one action, until it expires. */
export interface ApprovalLinkBinding {
  jti: string;
  requestId: string;
  approverId: string;
  action: LinkAction;
  expiresAt: Date;
}

export interface ApprovalLink extends ApprovalLinkBinding {
  createdAt: Date;
  usedAt: Date | null;
}

export interface ApprovalLinkRepo {
  insert(link: ApprovalLinkBinding, createdAt: Date): Promise<void>;
  byJti(jti: string): Promise<ApprovalLink | null>;
  /** conditional write: marks the link used only if it is exactly this link, unused and unexpired at `now` */
  consume(link: ApprovalLinkBinding, now: Date): Promise<boolean>;
}

export interface SlackMessage {
  id: string;
  requestId: string;
  kind: 'channel' | 'dm';
  /** the approver a DM went to; null for the channel post */
  approverId: string | null;
  channel: string;
  ts: string;
}

export interface SlackMessageRepo {
  /** records a posted message; false when this target already has one (a retried post) */
  insert(m: Omit<SlackMessage, 'id'>, at: Date): Promise<boolean>;
  /** a request's messages in the order they were posted */
  forRequest(requestId: string): Promise<SlackMessage[]>;
  /** whether the channel post (approverId null) or this approver's DM about the request exists */
  has(requestId: string, approverId: string | null): Promise<boolean>;
  markUpdated(id: string, at: Date): Promise<void>;
}
