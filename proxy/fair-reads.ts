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
 * - A socket that has delivered less than `allowance` in this turn is never held: keystrokes, their
 *   echoes, window adjustments and a revocation's notice go through in the turn they arrive.
 * - Past it, a socket is held (paused: its bytes stay in the kernel and in the stream's buffer, TCP
 *   slows the sender) once the turn's budget is spent or it has had `perSocket` itself, and joins the
 *   queue of held sockets.
 * - At the end of each turn (its check phase) held sockets are resumed oldest first, as many as the next
 *   turn's budget has room for (one read, 64 KiB, each); the others wait their turn, in order. No socket
 *   waits for ever: the queue only moves forward.
 * Nothing is lost or reordered: a socket is only paused and resumed.
 */
import type { Socket } from 'node:net';

export interface FairReadsOptions {
  /** bulk bytes all sockets together may deliver in one turn */
  turnBudget: number;
  /** bytes one socket may deliver in a turn without ever being held */
  allowance: number;
  /** bytes one socket may deliver in a turn while the budget lasts */
  perSocket: number;
}

export const DEFAULT_FAIR_READS: FairReadsOptions = { turnBudget: 128 * 1024, allowance: 16 * 1024, perSocket: 128 * 1024 };

/** what libuv reads from a socket at once: a resumed socket delivers at least this much in its turn */
const READ_SIZE = 64 * 1024;

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

  /**
   * Installs the sharing on `socket`. Call it once the socket's reader (ssh2) has attached and started:
   * adding a 'data' listener to a socket nobody has paused would start it flowing.
   */
  share(socket: Socket): void {
    const share: Share = { socket, used: 0, held: false };
    socket.prependListener('data', (chunk: Buffer) => {
      share.used += chunk.length;
      this.charged.add(share);
      this.endOfTurnSoon();
      if (share.held || share.used <= this.o.allowance) return;
      this.turnUsed += chunk.length;
      if (this.turnUsed < this.o.turnBudget && share.used < this.o.perSocket) return;
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
