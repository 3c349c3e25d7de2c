/**
 * The proxy's side of supervised sessions (SPEC §8.6): the technician's input passes only while at
 * least one eligible supervisor watches; while none does, keystrokes are discarded (never queued, so
 * nothing runs unseen later). Who supervises is read from the database — on a bus hint and every
 * refresh interval, which also notices a watch that stopped being refreshed — and every change is
 * reported so the relay can mark the recording and tell the technician.
 */
import { Transform } from 'node:stream';
import type { Supervisor } from '../server/core/supervision.js';
import type { RegistryTimers } from './live-registry.js';

export interface SupervisionChange {
  held: boolean;
  joined: Supervisor[];
  left: Supervisor[];
  supervisors: Supervisor[];
}

export interface SupervisionGateOptions {
  read(): Promise<Supervisor[]>;
  timers: RegistryTimers;
  refreshMs: number;
  onChange(change: SupervisionChange): void;
  /** input arrived while held and was dropped (told once per held stretch) */
  onDiscard(): void;
  onError(err: unknown): void;
}

export class SupervisionGate {
  private current = new Map<string, Supervisor>();
  private heldNow = true;
  private told = false;
  private stopped = false;
  private handle: unknown = null;
  private running: Promise<void> | null = null;
  private again = false;
  private waiters: (() => void)[] = [];
  discardedBytes = 0;

  constructor(private o: SupervisionGateOptions) {}

  get held(): boolean {
    return this.heldNow;
  }

  /** reads who supervises now, then keeps reading every refreshMs */
  async start(): Promise<void> {
    await this.refresh();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== null) this.o.timers.clearTimeout(this.handle);
    for (const w of this.waiters.splice(0)) w();
  }

  /** resolves once someone supervises (or the gate stops) */
  whenSupervised(): Promise<void> {
    if (!this.heldNow || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** reads again (a hint arrived); concurrent calls collapse into one more read */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          this.apply(await this.o.read());
        } catch (err) {
          this.o.onError(err);
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = null));
    return this.running;
  }

  /** the technician's input on its way to the device: passes while supervised, dropped while held */
  filter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        if (!this.heldNow) return done(null, chunk);
        this.discardedBytes += chunk.length;
        if (!this.told) {
          this.told = true;
          this.o.onDiscard();
        }
        done();
      },
    });
  }

  private apply(list: Supervisor[]): void {
    if (this.stopped) return;
    const next = new Map(list.map((s) => [s.userId, s]));
    const joined = list.filter((s) => !this.current.has(s.userId));
    const left = [...this.current.values()].filter((s) => !next.has(s.userId));
    const held = next.size === 0;
    const changed = joined.length > 0 || left.length > 0 || held !== this.heldNow;
    this.current = next;
    if (held !== this.heldNow) this.told = false;
    this.heldNow = held;
    if (!held) for (const w of this.waiters.splice(0)) w();
    if (changed) this.o.onChange({ held, joined, left, supervisors: list });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.handle = this.o.timers.setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, this.o.refreshMs);
  }
}
