/**
 * Refused SSH authentications become audit events, at most one per source address and window
 * (a minute by default), each with a `count`. Every audit append takes the chain's global lock, so
 * a flood of refusals written one by one would queue approvals and revocations behind it.
 *
 * Per source: the first refusal is written at once (count 1, so a lone failure is visible
 * immediately) and opens a window; refusals inside it are held, counted and flushed as one event
 * when it ends, which opens the next window. So events from one source are at least a window apart.
 * Memory is bounded: past `maxSources` open windows, further sources share one overflow window.
 * Writes go one at a time; `close()` flushes everything held (shutdown).
 */
import type { AuthFailure } from '../server/core/sessions.js';

export type Refusal = Omit<AuthFailure, 'count' | 'reasons' | 'principals' | 'sources' | 'firstAt' | 'lastAt'>;

export interface RefusalTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface RefusalAuditOptions {
  /** writes one event (auditAuthFailure) */
  write(event: AuthFailure): Promise<void>;
  /** a write that failed: the refusals in it are lost, the proxy goes on */
  onError(err: unknown): void;
  windowMs: number;
  /** open windows kept at most; default 1000 */
  maxSources?: number;
  /** distinct reasons, principals and overflow sources kept as a sample in each event; default 5 */
  sampleSize?: number;
  /** wall-clock ms; default Date.now */
  now?: () => number;
  /** default the global timers (unref'ed) */
  timers?: RefusalTimers;
}

interface Held {
  count: number;
  first: Refusal;
  reasons: Map<string, number>;
  principals: Set<string>;
  sources: Set<string>;
  firstAt: number;
  lastAt: number;
}

interface Window {
  endsAt: number;
  held: Held | null;
}

const OTHER_REASONS = '(other reasons)';

const defaultTimers: RefusalTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class RefusalAudit {
  /** open windows by source, in the order they end (a window that is renewed moves to the back) */
  private readonly windows = new Map<string, Window>();
  private overflow: Window | null = null;
  private timer: unknown = null;
  private timerAt = Infinity;
  private writes: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly maxSources: number;
  private readonly sampleSize: number;
  private readonly now: () => number;
  private readonly timers: RefusalTimers;

  constructor(private readonly opts: RefusalAuditOptions) {
    if (!(opts.windowMs > 0)) throw new Error('windowMs must be positive');
    this.maxSources = opts.maxSources ?? 1000;
    this.sampleSize = opts.sampleSize ?? 5;
    this.now = opts.now ?? Date.now;
    this.timers = opts.timers ?? defaultTimers;
  }

  /** windows open now (bounded by maxSources, plus the overflow one) */
  get openWindows(): number {
    return this.windows.size + (this.overflow ? 1 : 0);
  }

  /** Records one refusal; resolves once it is written when it opened a window, at once when it is held. */
  record(r: Refusal): Promise<void> {
    if (this.closed) return Promise.resolve();
    const now = this.now();
    this.flushDue(now);
    const source = r.clientAddress ?? 'unknown';
    const open = this.windows.get(source);
    if (open) {
      this.hold(open, r, now);
    } else if (this.windows.size < this.maxSources) {
      this.windows.set(source, { endsAt: now + this.opts.windowMs, held: null });
      this.arm();
      return this.enqueue({ ...r, count: 1 });
    } else {
      // a flood from more addresses than we keep: one shared window, never a leading write
      this.overflow ??= { endsAt: now + this.opts.windowMs, held: null };
      this.hold(this.overflow, r, now);
    }
    this.arm();
    return Promise.resolve();
  }

  /** Writes every held refusal now and stops; later refusals are not recorded. */
  async close(): Promise<void> {
    if (this.closed) return this.writes;
    this.closed = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.windows.values()) if (w.held) this.enqueue(this.event(w.held));
    if (this.overflow?.held) this.enqueue(this.event(this.overflow.held, true));
    this.windows.clear();
    this.overflow = null;
    return this.writes;
  }

  private hold(w: Window, r: Refusal, now: number): void {
    const h = (w.held ??= { count: 0, first: r, reasons: new Map(), principals: new Set(), sources: new Set(), firstAt: now, lastAt: now });
    h.count++;
    h.lastAt = now;
    const reason = h.reasons.has(r.reason) || h.reasons.size < this.sampleSize ? r.reason : OTHER_REASONS;
    h.reasons.set(reason, (h.reasons.get(reason) ?? 0) + 1);
    if (h.principals.size < this.sampleSize) h.principals.add(r.principal);
    if (w === this.overflow && r.clientAddress && h.sources.size < this.sampleSize) h.sources.add(r.clientAddress);
  }

  private event(h: Held, overflow = false): AuthFailure {
    return {
      ...h.first,
      ...(overflow ? { clientAddress: null, sources: [...h.sources] } : {}),
      count: h.count,
      reasons: Object.fromEntries(h.reasons),
      principals: [...h.principals],
      firstAt: new Date(h.firstAt).toISOString(),
      lastAt: new Date(h.lastAt).toISOString(),
    };
  }

  /** Ends every window that is over: held refusals are written and open the next window. */
  private flushDue(now: number): void {
    for (const [source, w] of this.windows) {
      if (w.endsAt > now) break; // in end order: the rest end later
      this.windows.delete(source);
      if (!w.held) continue;
      void this.enqueue(this.event(w.held));
      this.windows.set(source, { endsAt: now + this.opts.windowMs, held: null });
    }
    if (this.overflow && this.overflow.endsAt <= now) {
      if (this.overflow.held) void this.enqueue(this.event(this.overflow.held, true));
      this.overflow = null;
    }
  }

  /** One timer, for the window that ends first. */
  private arm(): void {
    const first = this.windows.values().next().value as Window | undefined;
    const at = Math.min(first?.endsAt ?? Infinity, this.overflow?.endsAt ?? Infinity);
    if (at === this.timerAt && this.timer !== null) return;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      if (this.closed) return;
      this.flushDue(this.now());
      this.arm();
    }, Math.max(0, at - this.now()));
  }

  private enqueue(event: AuthFailure): Promise<void> {
    const write = this.writes.then(() => this.opts.write(event)).catch((err: unknown) => this.opts.onError(err));
    this.writes = write;
    return write;
  }
}
