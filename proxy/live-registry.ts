/**
 * Every live session and connection of this proxy process, grouped by grant. Holds one timer set
 * per grant (warnings at T-5 and T-1 minutes, cut at the end) so the cut-off never depends on a
 * job running on time, and applies revocation events from the bus within the event loop turn.
 */
import type { RevocationEvent } from '../server/core/workflow-ports.js';
import { notice } from './notices.js';

export type CutReason = 'expired' | 'revoked';

export interface LiveMember {
  grantId: string;
  /** set for sessions (recorded channels); absent for the connection that carries them */
  sessionId?: string;
  notify(text: string, marker: string): void;
  cut(reason: CutReason, text: string): void;
}

interface GrantTimers {
  endsAt: Date;
  members: Set<LiveMember>;
  handles: ReturnType<typeof setTimeout>[];
}

export interface RegistryClock {
  now(): Date;
}

export class LiveRegistry {
  private grants = new Map<string, GrantTimers>();

  /** `warningMinutes`: how long before the end live terminals are warned (default T-5 and T-1) */
  constructor(
    private clock: RegistryClock,
    private onCut?: (reason: CutReason) => void,
    private warningMinutes: number[] = [5, 1],
  ) {}

  add(member: LiveMember, endsAt: Date): void {
    let g = this.grants.get(member.grantId);
    if (!g) {
      g = { endsAt, members: new Set(), handles: [] };
      this.grants.set(member.grantId, g);
      this.arm(member.grantId, g);
    }
    g.members.add(member);
  }

  remove(member: LiveMember): void {
    const g = this.grants.get(member.grantId);
    if (!g) return;
    g.members.delete(member);
    if (g.members.size === 0) this.drop(member.grantId);
  }

  get sessionCount(): number {
    let n = 0;
    for (const g of this.grants.values()) for (const m of g.members) if (m.sessionId) n++;
    return n;
  }

  apply(e: RevocationEvent): void {
    if (e.type === 'grant.ended') {
      for (const id of e.grantIds) this.cutGrant(id, e.reason, e.reason === 'expired' ? notice.expired : notice.revoked(e.message));
    } else if (e.type === 'grant.extended') {
      const g = this.grants.get(e.grantId);
      if (!g) return;
      g.endsAt = new Date(e.endsAt);
      this.arm(e.grantId, g);
      for (const m of g.members) m.notify(notice.extended(g.endsAt), `extended until ${g.endsAt.toISOString()}`);
    } else {
      for (const g of this.grants.values()) {
        for (const m of g.members) if (m.sessionId === e.sessionId) this.cutMember(m, 'revoked', notice.terminated(e.message));
      }
    }
  }

  /** cuts everything (proxy shutdown) */
  cutAll(text: string): void {
    for (const id of [...this.grants.keys()]) this.cutGrant(id, 'revoked', text);
  }

  private cutGrant(grantId: string, reason: CutReason, text: string): void {
    const g = this.grants.get(grantId);
    if (!g) return;
    this.drop(grantId);
    for (const m of g.members) this.cutMember(m, reason, text);
  }

  private cutMember(m: LiveMember, reason: CutReason, text: string): void {
    if (m.sessionId) this.onCut?.(reason);
    m.cut(reason, text);
  }

  private drop(grantId: string): void {
    const g = this.grants.get(grantId);
    if (!g) return;
    for (const h of g.handles) clearTimeout(h);
    this.grants.delete(grantId);
  }

  private arm(grantId: string, g: GrantTimers): void {
    for (const h of g.handles) clearTimeout(h);
    const now = this.clock.now().getTime();
    const end = g.endsAt.getTime();
    g.handles = this.warningMinutes.filter((m) => end - m * 60_000 > now).map((m) =>
      setTimeout(() => {
        for (const member of g.members) member.notify(notice.warning(m, g.endsAt), `warning: ${m} min left`);
      }, end - m * 60_000 - now),
    );
    g.handles.push(setTimeout(() => this.cutGrant(grantId, 'expired', notice.expired), Math.max(0, end - now)));
  }
}
