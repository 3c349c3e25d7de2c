/**
 * One file moved through the SFTP relay: the bytes seen, hashed in file-offset order, and the outcome
 * when it ends. Invariants: `complete` only when the bytes cover the file contiguously from offset 0
 * to its end (uploads: the file on the device is exactly that long and no offset was written twice;
 * downloads: the reads reached end of file or the size the file had at open); a refusal or a failure
 * is kept over anything that follows; the hash (of the contiguous prefix) is taken once.
 */
import type { TransferResult } from '../../server/core/transfers.js';
import { RangeHasher } from './range-hasher.js';

/** out-of-order bytes held per file while an earlier gap is outstanding (pipelines hold ~2 MiB) */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export interface TrackerInit {
  direction: 'upload' | 'download';
  path: string;
  startedAt: Date;
  /** the policy's per-file limit */
  limitBytes: number;
  limitMiB: number;
  /** downloads: the file's size when it was opened */
  sizeAtOpen?: number | null;
}

export type Verdict = { ok: true } | { ok: false; refused: boolean; reason: string };

export class TransferTracker {
  private readonly hasher = new RangeHasher(MAX_PENDING_BYTES);
  private refusal: string | null = null;
  private failure: string | null = null;
  private eofAt: number | null = null;
  private finalSize: number | null = null;
  private ended = false;
  bytes = 0;

  constructor(readonly init: TrackerInit) {}

  get direction() {
    return this.init.direction;
  }

  get refused(): boolean {
    return this.refusal !== null;
  }

  /** Whether bytes ending at `end` stay within the policy's size limit (refuses the transfer if not). */
  withinLimit(end: number): Verdict {
    if (end <= this.init.limitBytes) return { ok: true };
    this.refusal ??= `the file exceeds the device's transfer limit of ${this.init.limitMiB} MiB`;
    return { ok: false, refused: true, reason: this.refusal };
  }

  /** Bytes at `offset` (written by the technician, or read from the device). */
  take(offset: number, data: Buffer): Verdict {
    if (this.refusal) return { ok: false, refused: true, reason: this.refusal };
    const limit = this.withinLimit(offset + data.length);
    if (!limit.ok) return limit;
    if (!this.hasher.add(offset, data)) {
      this.failure ??= 'the bytes arrived too far out of file order to be hashed';
      return { ok: false, refused: false, reason: this.failure };
    }
    this.bytes += data.length;
    return { ok: true };
  }

  /** A read at `offset` found end of file. */
  eof(offset: number): void {
    this.eofAt = this.eofAt === null ? offset : Math.min(this.eofAt, offset);
  }

  /** Uploads: the file's size on the device when it was closed. */
  closedAtSize(size: number): void {
    this.finalSize = size;
  }

  /** The device failed an operation on the file. */
  fail(reason: string): void {
    this.failure ??= reason;
  }

  /**
   * The transfer as it ended. `interrupted` says why it ended before the technician closed the file
   * (a cut, a closed session): it is at best partial.
   */
  result(endedAt: Date, interrupted: string | null = null): TransferResult | null {
    if (this.ended) return null;
    this.ended = true;
    // judged before the digest, which lets go of the ranges still waiting beyond a gap
    const gap = this.coverageGap();
    const sha256 = this.bytes > 0 || (!this.refusal && !this.failure) ? this.hasher.digest() : null;
    const base = { direction: this.init.direction, path: this.init.path, bytes: this.bytes, sha256, startedAt: this.init.startedAt, endedAt };
    if (this.refusal) return { ...base, outcome: 'refused', reason: this.refusal };
    if (this.failure) return { ...base, outcome: 'failed', reason: this.failure };
    if (interrupted) return { ...base, outcome: 'partial', reason: gap ? `${interrupted}; ${gap}` : interrupted };
    return gap ? { ...base, outcome: 'partial', reason: gap } : { ...base, outcome: 'complete', reason: null };
  }

  /** why the bytes seen are not the whole file (null: they are) */
  private coverageGap(): string | null {
    const covered = this.hasher.contiguous;
    const hashNote = `the hash covers bytes 0–${covered}`;
    if (this.hasher.hasGaps) return `the bytes do not cover the file contiguously from offset 0 (${hashNote})`;
    if (this.init.direction === 'upload') {
      if (this.hasher.rewritten) return 'some offsets were written more than once (the hash covers the first bytes written)';
      if (this.finalSize !== null && this.finalSize !== covered) return `the file on the device is ${this.finalSize} bytes, ${covered} were written from offset 0`;
      return null;
    }
    if (this.eofAt !== null && this.eofAt <= covered) return null;
    if (this.init.sizeAtOpen != null && covered >= this.init.sizeAtOpen) return null;
    return `read ${covered} of ${this.init.sizeAtOpen ?? 'an unknown number of'} bytes`;
  }
}
