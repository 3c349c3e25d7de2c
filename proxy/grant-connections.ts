/**
 * The connections each grant holds through this process — SSH connections and browser terminals — and
 * their limit (SSH_MAX_CONNECTIONS_PER_GRANT). One more is refused (ssh-server.ts at authentication,
 * ws-terminal.ts at connect): each connection costs memory and a connection to the device, and the
 * proxy shares its reading among connections (fair-reads.ts), so a technician opening dozens would take
 * that much more of it from everyone else's sessions.
 */
export class GrantConnections {
  private readonly counts = new Map<string, number>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('the connection limit per grant must be a positive integer');
  }

  /** Counts one more connection of the grant: false (nothing counted) when it already holds `limit`. */
  take(grantId: string): boolean {
    const n = this.counts.get(grantId) ?? 0;
    if (n >= this.limit) return false;
    this.counts.set(grantId, n + 1);
    return true;
  }

  /** A connection counted by take() has closed. */
  release(grantId: string): void {
    const n = this.counts.get(grantId) ?? 0;
    if (n <= 1) this.counts.delete(grantId);
    else this.counts.set(grantId, n - 1);
  }

  /** connections the grant holds now */
  of(grantId: string): number {
    return this.counts.get(grantId) ?? 0;
  }
}
