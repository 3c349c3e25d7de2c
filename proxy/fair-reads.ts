/**
 * Fair reading for the relay's sockets. libuv reads a readable socket up to 32 times (64 KiB each)
 * per turn of the event loop, and ssh2 decrypts, the relay records and encrypts every chunk at once:
 * ten downloads made one turn take hundreds of milliseconds, and every keystroke's echo — and every
 * cut's notice and close — waited for it (the benchmark's load phase: event loop late 115–133 ms at
 * p99 and up to a second at worst).
 *
 * A per-socket budget (128 KiB a turn) brought that to 79–99 ms but left a turn with ten downloads at
 * ten times the budget: keystrokes through the proxy took 16 ms at p50 and 0.3–0.6 s at p99, while
 * sessions straight to the device in the same window took 0.3 / 19 ms (the load phase's control group).
 * So the budget is now the turn's: all sockets together deliver about `turnBudget` bulk bytes a turn
 * (128 KiB: keystroke p50 outside the storm 4.7 ms; 256 KiB gave 6–7 ms, 64 KiB 3.4 ms but single
 * downloads ~10 % slower).
 * - Every byte read counts towards the turn's budget.
 * - A socket that has delivered no more than `allowance` in this turn is not held while the turn stays
 *   within FLOOD_FACTOR budgets, and a read of keystroke size (KEYSTROKE_READ or less) never makes it
 *   held: keystrokes, their echoes, window adjustments and a revocation's notice go through in the turn
 *   they arrive. Many connections each sending just under the allowance (a technician opening dozens)
 *   are held too once the turn is that far over.
 * - Past its allowance, a socket is held once the turn's budget is spent or it has had `perSocket`
 *   itself.
 * - Held: paused (its bytes stay in the kernel and in the stream's buffer, TCP slows the sender) and
 *   queued. At the end of each turn (its check phase) held sockets are resumed oldest first, as many as
 *   the next turn's budget has room for (one read, 64 KiB, each); the others wait their turn, in order,
 *   the loop turning on (setImmediate) until they have had it. No socket waits for ever.
 * A socket is held only after the read that took it over, so every readable socket's first read of a turn
 * is delivered: a turn is bounded by the budget plus one read per socket that became readable in it.
 * Nothing is lost or reordered: a socket is only paused and resumed — and this must be the only thing
 * that pauses these sockets (ssh2 pauses them only before its handshake, before they are shared;
 * the relay's backpressure pauses channels, not sockets), since a held socket is resumed regardless.
 */
import type { Socket } from 'node:net';

export interface FairReadsOptions {
  /** bulk bytes all sockets together may deliver in one turn */
  turnBudget: number;
  /** bytes one socket may deliver in a turn without being held, while the turn is within FLOOD_FACTOR budgets */
  allowance: number;
  /** bytes one socket may deliver in a turn while the budget lasts */
  perSocket: number;
}

export const DEFAULT_FAIR_READS: FairReadsOptions = { turnBudget: 128 * 1024, allowance: 16 * 1024, perSocket: 128 * 1024 };

/** what libuv reads from a socket at once: a resumed socket delivers at least this much in its turn */
const READ_SIZE = 64 * 1024;
/** a read this small is typing (or an acknowledgement): it never makes its socket held */
const KEYSTROKE_READ = 2 * 1024;
/** past this many budgets in one turn, sockets still under their allowance are held too */
const FLOOD_FACTOR = 4;

interface Share { socket: Socket; used: number; held: boolean }

/** One event loop's sharing of reads among the sockets given to it. */
export class FairReads {
  private turnUsed = 0;
  private readonly charged = new Set<Share>();
  private readonly held: Share[] = [];
  private scheduled = false;

  constructor(private readonly o: FairReadsOptions = DEFAULT_FAIR_READS) {}

  /** sockets held now, waiting for a turn */
  get waiting(): number {
    return this.held.length;
  }

  /** Installs the sharing on `socket`. Call it once the socket's reader (ssh2) has attached and started. */
  share(socket: Socket): void {
    const share: Share = { socket, used: 0, held: false };
    socket.prependListener('data', (chunk: Buffer) => {
      share.used += chunk.length;
      this.turnUsed += chunk.length;
      this.charged.add(share);
      this.endOfTurnSoon();
      if (share.held) return;
      const hold = share.used > this.o.allowance
        ? this.turnUsed >= this.o.turnBudget || share.used >= this.o.perSocket
        : this.turnUsed >= FLOOD_FACTOR * this.o.turnBudget && chunk.length > KEYSTROKE_READ;
      if (!hold) return;
      share.held = true;
      socket.pause();
      this.held.push(share);
    });
  }

  private endOfTurnSoon(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.endOfTurn());
  }

  private endOfTurn(): void {
    this.scheduled = false;
    for (const s of this.charged) s.used = 0;
    this.charged.clear();
    this.turnUsed = 0;
    let room = Math.max(1, Math.floor(this.o.turnBudget / READ_SIZE));
    while (room > 0 && this.held.length > 0) {
      const s = this.held.shift()!;
      s.held = false;
      if (s.socket.destroyed) continue;
      s.socket.resume();
      room--;
    }
    // the sockets still held get the next turn's room: the loop turns on (setImmediate) until they have
    if (this.held.length > 0) this.endOfTurnSoon();
  }
}

const processReads = new FairReads();

/** Shares this process's reads with `socket` (see FairReads.share). */
export function shareReads(socket: Socket): void {
  processReads.share(socket);
}
