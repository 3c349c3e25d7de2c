/**
 * SHA-256 over a file's bytes in file-offset order, fed ranges in whatever order they arrive
 * (pipelined SFTP clients send WRITEs out of order). Ranges ahead of the hashed prefix wait in a
 * bounded buffer; the hashed prefix only ever grows from offset 0. Invariants: memory held is at most
 * `maxPendingBytes`; a range that would exceed it is not taken (the caller refuses it); bytes given
 * twice for an offset already hashed or waiting are noted (`rewritten`), since the hash then covers
 * the first bytes seen, which need not be what the file holds.
 */
import { createHash, type Hash } from 'node:crypto';

export class RangeHasher {
  private readonly hash: Hash = createHash('sha256');
  /** bytes hashed contiguously from offset 0 */
  private next = 0;
  private readonly pending = new Map<number, Buffer>();
  private pendingBytes = 0;
  private digested: string | null = null;
  /** some offset was given more than once */
  rewritten = false;

  constructor(private readonly maxPendingBytes: number) {}

  /** Feeds the bytes at `offset`; false when they would overflow the waiting buffer (nothing taken). */
  add(offset: number, data: Buffer): boolean {
    if (data.length === 0 || this.digested !== null) return true;
    let start = offset;
    let bytes = data;
    if (start < this.next) {
      this.rewritten = true;
      if (start + bytes.length <= this.next) return true;
      bytes = bytes.subarray(this.next - start);
      start = this.next;
    }
    if (start === this.next) {
      this.hash.update(bytes);
      this.next += bytes.length;
      this.drain();
      return true;
    }
    if (this.pending.has(start)) this.rewritten = true;
    const held = this.pending.get(start)?.length ?? 0;
    if (this.pendingBytes - held + bytes.length > this.maxPendingBytes) return false;
    // the caller's buffer may be reused once this call returns: keep a copy
    this.pending.set(start, Buffer.from(bytes));
    this.pendingBytes += bytes.length - held;
    return true;
  }

  /** bytes hashed contiguously from offset 0 */
  get contiguous(): number {
    return this.next;
  }

  /** true when ranges beyond a gap are still waiting (the bytes seen do not cover the file contiguously) */
  get hasGaps(): boolean {
    return this.pending.size > 0;
  }

  /** the hex SHA-256 of the contiguous prefix; ends the hashing */
  digest(): string {
    this.digested ??= this.hash.digest('hex');
    this.pending.clear();
    this.pendingBytes = 0;
    return this.digested;
  }

  private drain(): void {
    // few ranges wait at a time (a client's pipeline depth): a scan per step is cheap
    for (let moved = true; moved && this.pending.size > 0; ) {
      moved = false;
      for (const [start, bytes] of this.pending) {
        if (start > this.next) continue;
        this.pending.delete(start);
        this.pendingBytes -= bytes.length;
        const end = start + bytes.length;
        if (start < this.next) this.rewritten = true;
        if (end > this.next) {
          this.hash.update(bytes.subarray(this.next - start));
          this.next = end;
        }
        moved = true;
      }
    }
  }
}
