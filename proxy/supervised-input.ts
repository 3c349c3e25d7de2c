/**
 * Wires a relayed session to its SupervisionGate: who supervises is read through the core, each
 * change is a marker in the recording and a line to the technician.
 */
import { currentSupervisors, SUPERVISOR_BEAT_MS } from '../server/core/supervision.js';
import type { Device } from '../server/core/types.js';
import type { ProxyContext } from './context.js';
import type { LiveMember } from './live-registry.js';
import { notice } from './notices.js';
import { SupervisionGate } from './supervision-gate.js';

export function superviseInput(ctx: ProxyContext, sessionId: string, device: Device, live: Pick<LiveMember, 'notify'>): SupervisionGate {
  const department = device.policy.approverDepartment;
  return new SupervisionGate({
    read: () => currentSupervisors(ctx.deps, sessionId),
    timers: ctx.timers,
    refreshMs: SUPERVISOR_BEAT_MS,
    onChange({ held, joined, left, supervisors }) {
      for (const s of joined) live.notify(notice.supervisorJoined(s.displayName), `supervisor joined: ${s.displayName} (${s.username})`);
      for (const s of left) live.notify(notice.supervisorLeft(s.displayName), `supervisor left: ${s.displayName} (${s.username})`);
      if (held && left.length > 0) live.notify(notice.supervisionHeld(department, false), 'input held: no supervisor');
      else if (!held && joined.length === supervisors.length) live.notify(notice.supervised(supervisors.map((s) => s.displayName)), 'input released: supervised');
    },
    onDiscard: () => live.notify(notice.inputDiscarded(department), 'input discarded: no supervisor'),
    onError: (err) => ctx.log.warn({ err, sessionId }, 'could not read who supervises the session; input stays as it was'),
  });
}
