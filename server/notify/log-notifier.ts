/** The notifier used when Slack is not configured: one operator log line per workflow event (names, no secrets). */
import type { Notifier, NotifyEvent } from '../core/workflow-ports.js';
import type { Logger } from '../logger.js';

export function describe(e: NotifyEvent): string {
  if (e.type === 'session.started' || e.type === 'session.ended') {
    const s = e.session;
    const what = e.type === 'session.started' ? 'started' : `ended (${e.endReason})`;
    return `session ${what}: ${s.technician.displayName} on ${s.device.name} (${s.channel}, grant ${s.grantId})`;
  }
  const r = e.request;
  const who = `${r.technician.displayName} (${r.vendor?.name ?? 'no vendor'})`;
  switch (e.type) {
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
      log.info({ notify: e.type, requestId: 'request' in e ? e.request.requestId : e.session.requestId }, describe(e));
    },
  };
}
