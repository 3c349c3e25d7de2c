/**
 * Automatic logoff (SPEC §8.6, HIPAA §164.312(a)(2)(iii)): a session with no input from the
 * technician for `timeoutMs` is cut; a warning comes one minute before (half the timeout when that is
 * shorter). Input only moves a timestamp — no timer is touched per keystroke; the one timer wakes at
 * the next deadline and looks at when input last came. Clock and timers are injected for tests.
 */
import type { RegistryClock, RegistryTimers } from './live-registry.js';

export interface IdleWatchOptions {
  timeoutMs: number;
  clock: RegistryClock;
  timers: RegistryTimers;
  /** told once per idle stretch, `msLeft` before the cut */
  onWarn(msLeft: number): void;
  onIdle(): void;
}

const WARN_BEFORE_MS = 60_000;

export class IdleWatch {
  private last: number;
  private warned = false;
  private stopped = false;
  private handle: unknown = null;
  private readonly warnBefore: number;

  constructor(private o: IdleWatchOptions) {
    this.last = o.clock.now().getTime();
    this.warnBefore = Math.min(WARN_BEFORE_MS, o.timeoutMs / 2);
    this.schedule();
  }

  /** the technician did something: the idle stretch starts again */
  touch(): void {
    this.last = this.o.clock.now().getTime();
    this.warned = false;
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== null) this.o.timers.clearTimeout(this.handle);
  }

  private schedule(): void {
    const deadline = this.last + this.o.timeoutMs;
    const next = this.warned ? deadline : deadline - this.warnBefore;
    this.handle = this.o.timers.setTimeout(() => this.tick(), Math.max(0, next - this.o.clock.now().getTime()));
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.o.clock.now().getTime();
    const deadline = this.last + this.o.timeoutMs;
    if (now >= deadline) {
      this.stopped = true;
      this.o.onIdle();
      return;
    }
    if (!this.warned && now >= deadline - this.warnBefore) {
      this.warned = true;
      this.o.onWarn(deadline - now);
    }
    this.schedule();
  }
}
