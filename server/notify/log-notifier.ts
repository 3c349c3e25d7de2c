/** The notifier used when Slack is not configured: one operator log line per workflow event (names, no secrets). */
import type { Notifier, NotifyEvent } from '../core/workflow-ports.js';
import type { Logger } from '../logger.js';

export function describe(e: NotifyEvent): string {
  if (e.type === 'session.started' || e.type === 'session.ended') {
    const s = e.session;
    const what = e.type === 'session.started' ? 'started' : `ended (${e.endReason})`;
    return `session ${what}: ${s.technician.displayName} on ${s.device.name} (${s.channel}, grant ${s.grantId})`;
  }
  if (e.type === 'credential.rotation_failed') {
    const to = e.approvers.map((a) => a.displayName).join(', ') || 'no eligible approver';
    return `DEVICE KEY ROTATION FAILED on ${e.device.name} [${e.device.department}] after ${e.attempts} attempts: ${e.reason} ` +
      `(the old key stays in place; the device is flagged; approvers told: ${to})`;
  }
  if (e.type === 'device.host_key_changed') {
    const to = e.approvers.map((a) => a.displayName).join(', ') || 'no eligible approver';
    return `DEVICE HOST KEY CHANGED on ${e.device.name} [${e.device.department}]: it presented ${e.keyType} ${e.fingerprint} ` +
      `instead of the pinned ${e.pinnedFingerprint} (seen by ${e.seenBy}); connections are refused until an approver re-pins it (approvers told: ${to})`;
  }
  if (e.type === 'transfer.undeclared') {
    const t = e.transfer;
    return `undeclared upload by ${e.session.technician.displayName} to ${e.session.device.name}: ${t.path} (${t.bytes} bytes, sha256 ${t.sha256 ?? 'none'}, ${t.outcome})`;
  }
  const r = e.request;
  const who = `${r.technician.displayName} (${r.vendor?.name ?? 'no vendor'})`;
  switch (e.type) {
    case 'grant.emergency': {
      const to = e.grant.approvers.map((a) => a.displayName).join(', ') || 'no eligible approver';
      if (e.stage === 'opened') {
        return `EMERGENCY ACCESS (break-glass): ${who} opened ${r.durationMinutes} min on ${r.device.name} [${r.device.department}] ` +
          `without approval: ${r.reason} (grant ${e.grant.grantId}, review due ${e.grant.reviewDueAt}; approvers told: ${to})`;
      }
      if (e.stage === 'review_overdue') {
        return `EMERGENCY ACCESS REVIEW OVERDUE: ${who} on ${r.device.name} (grant ${e.grant.grantId}, due ${e.grant.reviewDueAt}; approvers told: ${to})`;
      }
      return `emergency access of ${who} on ${r.device.name} reviewed as ${e.review?.outcome ?? '?'} by ${e.review?.reviewer.displayName ?? '?'}` +
        ` (grant ${e.grant.grantId})${e.review ? `: ${e.review.comment}` : ''}`;
    }
    case 'request.created':
      return `${who} requests ${r.durationMinutes} min on ${r.device.name} [${r.device.department}]: ${r.reason} (${r.ticketRef})`;
    case 'request.decided':
      return `${e.approver.displayName} ${e.decision === 'approve' ? 'approved' : 'denied'} ${who}'s request for ${r.device.name}: now ${e.outcome}`;
    case 'request.closed':
      return `${who}'s request for ${r.device.name} ${e.status}`;
    case 'grant.changed':
      return `grant for ${who} on ${r.device.name} ${e.status} (${e.startsAt} → ${e.endsAt})${e.reason ? `: ${e.reason}` : ''}`;
  }
}

export function createLogNotifier(log: Logger): Notifier {
  return {
    async notify(e) {
      // an emergency stands out in the operators' log
      const deviceEvent = e.type === 'credential.rotation_failed' || e.type === 'device.host_key_changed';
      const level = (e.type === 'grant.emergency' && e.stage !== 'reviewed') || deviceEvent ? 'warn' : 'info';
      const subject = deviceEvent ? { deviceId: e.device.id } : { requestId: 'request' in e ? e.request.requestId : e.session.requestId };
      log[level]({ notify: e.type, ...subject }, describe(e));
    },
  };
}
