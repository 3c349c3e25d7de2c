/**
 * Limits on SSH connections before they authenticate (ssh2 has none): the handshake and
 * authentication must finish within a deadline, a connection gets a fixed number of
 * authentication attempts, and one source address may hold only so many unauthenticated
 * connections. A connection over the per-address limit is destroyed as it is accepted, before any
 * handshake work is spent on it.
 */
import type net from 'node:net';

export interface PreauthLimits {
  authTimeoutMs: number;
  maxAttempts: number;
  maxUnauthenticatedPerIp: number;
}

export const DEFAULT_PREAUTH_LIMITS: PreauthLimits = { authTimeoutMs: 20_000, maxAttempts: 6, maxUnauthenticatedPerIp: 10 };

export type PreauthRefusal = 'timeout' | 'too_many_attempts' | 'too_many_unauthenticated';

export interface PreauthTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface PreauthGateOptions {
  limits: PreauthLimits;
  /** a connection was refused or closed by a limit (metrics, log) */
  onRefused(kind: PreauthRefusal, source: string): void;
  timers?: PreauthTimers;
}

/** One accepted, not yet authenticated connection. */
export interface PreauthTicket {
  /** Counts one authentication attempt: false when this one is over the limit (the caller disconnects). */
  attempt(): boolean;
  /** Authentication succeeded: the deadline stops and the source's slot is freed. */
  authenticated(): void;
}

/** IPv4 clients on a dual-stack listener appear as ::ffff:a.b.c.d: one address, one count. */
export const sourceOf = (socket: net.Socket): string | null => socket.remoteAddress?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '') ?? null;

/** how long a client told to go may take to close its end before its socket is destroyed */
const DISCONNECT_GRACE_MS = 1000;

const defaultTimers: PreauthTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class PreauthGate {
  private readonly unauthenticated = new Map<string, number>();
  /** sockets not yet authenticated: destroyed on close() */
  private readonly pending = new Set<net.Socket>();
  private readonly timers: PreauthTimers;

  constructor(private readonly opts: PreauthGateOptions) {
    this.timers = opts.timers ?? defaultTimers;
  }

  /** unauthenticated connections held now by `source` */
  heldBy(source: string): number {
    return this.unauthenticated.get(source) ?? 0;
  }

  /** A ticket for a freshly accepted socket, or null when it was destroyed at once. */
  admit(socket: net.Socket): PreauthTicket | null {
    const { limits, onRefused } = this.opts;
    const source = sourceOf(socket);
    if (source === null) {
      socket.destroy(); // already gone
      return null;
    }
    if (this.heldBy(source) >= limits.maxUnauthenticatedPerIp) {
      socket.destroy();
      onRefused('too_many_unauthenticated', source);
      return null;
    }
    this.unauthenticated.set(source, this.heldBy(source) + 1);
    this.pending.add(socket);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.timers.clearTimeout(deadline);
      this.pending.delete(socket);
      const n = this.heldBy(source) - 1;
      if (n > 0) this.unauthenticated.set(source, n);
      else this.unauthenticated.delete(source);
    };
    let deadline = this.timers.setTimeout(() => {
      release();
      onRefused('timeout', source);
      socket.destroy();
    }, limits.authTimeoutMs);
    socket.once('close', release);
    let attempts = 0;
    return {
      attempt: () => {
        if (released) return true; // authenticated: nothing to limit here
        if (++attempts <= limits.maxAttempts) return true;
        if (attempts === limits.maxAttempts + 1) {
          onRefused('too_many_attempts', source);
          // the caller sends a disconnect; a client that keeps its end open is cut shortly after
          this.timers.clearTimeout(deadline);
          deadline = this.timers.setTimeout(() => {
            release();
            socket.destroy();
          }, DISCONNECT_GRACE_MS);
        }
        return false;
      },
      authenticated: release,
    };
  }

  /** Destroys every connection that has not authenticated (the server is closing). */
  close(): void {
    for (const socket of [...this.pending]) socket.destroy();
  }
}
