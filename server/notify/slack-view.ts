/**
 * The current state of a request as people read it — names, decisions with who made them, the grant
 * window — loaded fresh from the database whenever a Slack message or a link page is rendered, so a
 * late or retried job never shows an older state than the database holds.
 */
import type { Tx } from '../core/ports.js';
import { requestContext } from '../core/request-context.js';
import type { RequestStatus } from '../core/types.js';
import type { RequestContext } from '../core/workflow-ports.js';

export interface DecisionView {
  approverId: string;
  approverName: string;
  decision: 'approve' | 'deny';
  comment: string | null;
  channel: 'web' | 'api' | 'slack-link';
  at: Date;
}

export interface RequestView {
  context: RequestContext;
  status: RequestStatus;
  createdAt: Date;
  expiresAt: Date;
  closedAt: Date | null;
  decisions: DecisionView[];
  grant: { status: string; startsAt: Date; endsAt: Date } | null;
}

export async function loadRequestView(read: Tx, requestId: string): Promise<RequestView | null> {
  const req = await read.requests.byId(requestId);
  if (!req) return null;
  const context = await requestContext(read, req);
  const decisions: DecisionView[] = [];
  for (const d of await read.decisions.forRequest(req.id)) {
    const approver = await read.users.byId(d.approverId);
    decisions.push({
      approverId: d.approverId, approverName: approver?.displayName ?? '(unknown approver)',
      decision: d.decision, comment: d.comment, channel: d.channel, at: d.createdAt,
    });
  }
  decisions.sort((a, b) => a.at.getTime() - b.at.getTime());
  const grant = req.kind === 'access' ? await read.grants.byRequest(req.id) : null;
  return {
    context, status: req.status, createdAt: req.createdAt, expiresAt: req.expiresAt, closedAt: req.closedAt, decisions,
    grant: grant ? { status: grant.status, startsAt: grant.startsAt, endsAt: grant.endsAt } : null,
  };
}
