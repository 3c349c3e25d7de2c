/**
 * Every live session and connection of this proxy process, grouped by grant. Invariants:
 * - the database is the source of truth; the revocation bus is a hint. An ending is applied at once
 *   (it only ever takes access away); an extension is applied only after the grant is read again.
 * - members are registered before their grant is checked, so a revocation that lands while a
 *   connection is still opening reaches it (callers check the grant after `add`).
 * - each grant holds its own timers (warnings, cut at the end), so a cut never depends on a job or a
 *   bus message arriving; `recheck` re-reads every live grant (periodically and after a bus
 *   reconnect), so a lost message delays a cut by at most one re-check interval.
 * Timers and the clock are injected: the cut-off logic runs under a fake clock in unit tests.
 */
import type { RevocationEvent } from '../server/core/workflow-ports.js';
import { notice } from './notices.js';

export type CutReason = 'expired' | 'revoked';

export interface LiveMember {
  grantId: string;
  /** the device's name (the certificate principal): what a re-check authorises against */
  deviceName: string;
  /** set for sessions (recorded or forwarded channels); absent for the connection that carries them */
  sessionId?: string;
  notify(text: string, marker: string): void;
  cut(reason: CutReason, text: string): void;
  /** who supervises the session may have changed (a hint: read it again) */
  supervisionChanged?(): void;
}

/** What the database says of a grant now. */
export type GrantCheck = { ok: true; endsAt: Date } | { ok: false; reason: CutReason; message: string };

export interface RegistryClock {
  now(): Date;
}

export interface RegistryTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: RegistryTimers = {
  setTimeout: (fn, ms) => {
    const h = setTimeout(fn, ms);
    h.unref?.();
    return h;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface LiveRegistryOptions {
  clock: RegistryClock;
  /** reads the grant from the database and says whether it may still be used, and until when */
  checkGrant(grantId: string, deviceName: string): Promise<GrantCheck>;
  timers?: RegistryTimers;
  /** how long before the end live terminals are warned (default T-5 and T-1 minutes) */
  warningMinutes?: number[];
  /** told of every cut session (metrics) */
  onCut?: (reason: CutReason) => void;
  /** a re-check that could not read the database (the grant's own timers still hold) */
  onCheckError?: (err: unknown, grantId: string) => void;
}

/**
 * A channel registered for cut-off before its grant is checked (§8.2). Until `live()` hands it the
 * session's own notices and cut, a cut is remembered in `cutWhileOpening` and told once to the
 * opener's `onEarlyCut` (which refuses the channel); the opener checks it after every await.
 */
export interface OpeningMember {
  readonly member: LiveMember;
  readonly cutWhileOpening: { reason: CutReason; text: string } | null;
  /** from now on the registry's notices and cuts go to `handlers` */
  live(handlers: Pick<LiveMember, 'notify' | 'cut'>): void;
  remove(): void;
}

interface GrantEntry {
  endsAt: Date;
  deviceName: string;
  members: Set<LiveMember>;
  handles: unknown[];
}

// ms between the end of one periodic re-check and the start of the next is the interval itself
const RECHECK_PARALLELISM = 8;

export class LiveRegistry {
  private grants = new Map<string, GrantEntry>();
  private readonly timers: RegistryTimers;
  private readonly warningMinutes: number[];
  private loop: { handle: unknown; stopped: boolean } | null = null;

  constructor(private opts: LiveRegistryOptions) {
    this.timers = opts.timers ?? realTimers;
    this.warningMinutes = opts.warningMinutes ?? [5, 1];
  }

  /** Registers a member; `endsAt` arms the grant's timers when it is the grant's first member. */
  add(member: LiveMember, endsAt: Date): void {
    let g = this.grants.get(member.grantId);
    if (!g) {
      g = { endsAt, deviceName: member.deviceName, members: new Set(), handles: [] };
      this.grants.set(member.grantId, g);
      this.arm(member.grantId, g);
    }
    g.members.add(member);
  }

  /** Registers a channel that is still opening (see OpeningMember). */
  addOpening(
    at: { grantId: string; deviceName: string; endsAt: Date },
    onEarlyCut: (reason: CutReason, text: string) => void,
  ): OpeningMember {
    let early: { reason: CutReason; text: string } | null = null;
    let handlers: Pick<LiveMember, 'notify' | 'cut'> | null = null;
    const member: LiveMember = {
      grantId: at.grantId,
      deviceName: at.deviceName,
      notify: (text, marker) => handlers?.notify(text, marker),
      cut(reason, text) {
        if (handlers) return handlers.cut(reason, text);
        if (early) return;
        early = { reason, text };
        onEarlyCut(reason, text);
      },
    };
    this.add(member, at.endsAt);
    return {
      member,
      get cutWhileOpening() {
        return early;
      },
      live: (h) => void (handlers = h),
      remove: () => this.remove(member),
    };
  }

  remove(member: LiveMember): void {
    const g = this.grants.get(member.grantId);
    if (!g) return;
    g.members.delete(member);
    if (g.members.size === 0) this.drop(member.grantId);
  }

  /** The grant's end as just read from the database: re-arms the timers when it moved. */
  observe(grantId: string, endsAt: Date): void {
    const g = this.grants.get(grantId);
    if (!g || g.endsAt.getTime() === endsAt.getTime()) return;
    g.endsAt = endsAt;
    this.arm(grantId, g);
  }

  has(grantId: string): boolean {
    return this.grants.has(grantId);
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
      // a hint only: anyone who can publish could forge it, so the grant is read before anything moves
      if (this.grants.has(e.grantId)) void this.recheck([e.grantId]);
    } else if (e.type === 'session.supervision') {
      for (const g of this.grants.values()) for (const m of g.members) if (m.sessionId === e.sessionId) m.supervisionChanged?.();
    } else {
      for (const g of this.grants.values()) {
        for (const m of g.members) if (m.sessionId === e.sessionId) this.cutMember(m, 'revoked', notice.terminated(e.message));
      }
    }
  }

  /**
   * Reads each live grant (all of them by default) from the database: ended or no longer usable →
   * cut; a new end → timers re-armed (an extension is told to the technician). A grant that cannot
   * be read keeps its timers and is tried again on the next re-check.
   */
  async recheck(grantIds: string[] = [...this.grants.keys()]): Promise<void> {
    const queue = [...new Set(grantIds)];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const g = this.grants.get(id);
        if (!g) continue;
        let check: GrantCheck;
        try {
          check = await this.opts.checkGrant(id, g.deviceName);
        } catch (err) {
          this.opts.onCheckError?.(err, id);
          continue;
        }
        if (this.grants.get(id) !== g) continue; // cut or dropped meanwhile
        if (!check.ok) {
          this.cutGrant(id, check.reason, check.reason === 'expired' ? notice.expired : notice.revoked(check.message));
        } else if (check.endsAt.getTime() !== g.endsAt.getTime()) {
          const later = check.endsAt > g.endsAt;
          g.endsAt = check.endsAt;
          this.arm(id, g);
          if (later) for (const m of g.members) m.notify(notice.extended(g.endsAt), `extended until ${g.endsAt.toISOString()}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECHECK_PARALLELISM, queue.length) }, worker));
  }

  /** Re-checks every live grant every `intervalMs` (one pass at a time) until `stopRechecks`. */
  startRechecks(intervalMs: number): void {
    if (this.loop) return;
    const loop = { handle: null as unknown, stopped: false };
    const tick = () => {
      void this.recheck().finally(() => {
        if (!loop.stopped) loop.handle = this.timers.setTimeout(tick, intervalMs);
      });
    };
    loop.handle = this.timers.setTimeout(tick, intervalMs);
    this.loop = loop;
  }

  stopRechecks(): void {
    if (!this.loop) return;
    this.loop.stopped = true;
    this.timers.clearTimeout(this.loop.handle);
    this.loop = null;
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
    if (m.sessionId) this.opts.onCut?.(reason);
    m.cut(reason, text);
  }

  private drop(grantId: string): void {
    const g = this.grants.get(grantId);
    if (!g) return;
    for (const h of g.handles) this.timers.clearTimeout(h);
    this.grants.delete(grantId);
  }

  private arm(grantId: string, g: GrantEntry): void {
    for (const h of g.handles) this.timers.clearTimeout(h);
    const now = this.opts.clock.now().getTime();
    const end = g.endsAt.getTime();
    g.handles = this.warningMinutes.filter((m) => end - m * 60_000 > now).map((m) =>
      this.timers.setTimeout(() => {
        for (const member of g.members) member.notify(notice.warning(m, g.endsAt), `warning: ${m} min left`);
      }, end - m * 60_000 - now),
    );
    g.handles.push(this.timers.setTimeout(() => this.cutGrant(grantId, 'expired', notice.expired), Math.max(0, end - now)));
  }
}
