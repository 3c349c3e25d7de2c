/**
 * How much of what was typed an evidence bundle lists (pure). A session's typed lines are what an
 * auditor reads first, but a technician can type — or paste, or pipe as text — without limit: a bundle
 * that listed every line of a 300 MB paste could not be built (past V8's 512 MiB string limit it was not,
 * and the page said "no readable recording"). So a bundle keeps:
 * - each line up to LINE_CHARS characters, the rest counted (`cutChars`);
 * - per session the first and the last SESSION_LINES / 2 lines, and says how many lines it left out
 *   between them and when they were typed (`typedLinesOmitted`) — so a command typed after a flood is
 *   still listed when the session ends with it, and a gap is never silent;
 * - per bundle at most BUNDLE_LINES lines over all its sessions (later sessions get what remains).
 * Every byte stays in the recordings, whose SHA-256 the bundle signs.
 */
import type { TimedLine } from './typed-lines.js';

/** characters of one typed line a bundle lists */
export const LINE_CHARS = 2000;
/** typed lines one session lists: the first half and the last half */
export const SESSION_LINES = 10_000;
/** typed lines one bundle lists over all its sessions */
export const BUNDLE_LINES = 20_000;

/** The lines a session's list leaves out, between its first `afterLine` lines and the rest. */
export interface OmittedLines {
  afterLine: number;
  count: number;
  /** when the first and the last of them began, in seconds since the start of the recording */
  fromOffsetSeconds: number;
  toOffsetSeconds: number;
}

export interface KeptLines {
  lines: TimedLine[];
  omitted: OmittedLines | null;
}

/** What was typed in a recording, at most `limit` lines kept (null when it cannot be read). */
export type TypedLinesSource = (path: string, limit: number) => Promise<KeptLines | null>;

/** Collects lines in order, keeping the first ⌈limit/2⌉ and the last ⌊limit/2⌋ and counting the others. */
export class LineKeeper {
  private readonly head: TimedLine[] = [];
  /** a ring of the last lines seen; `next` is where the oldest stands once it is full */
  private readonly tail: TimedLine[] = [];
  private next = 0;
  private omitted: OmittedLines | null = null;
  private readonly headMax: number;
  private readonly tailMax: number;

  constructor(limit: number) {
    const n = Math.max(0, Math.floor(limit));
    this.headMax = Math.ceil(n / 2);
    this.tailMax = n - this.headMax;
  }

  push(line: TimedLine): void {
    if (this.head.length < this.headMax) {
      this.head.push(line);
      return;
    }
    if (this.tail.length < this.tailMax) {
      this.tail.push(line);
      return;
    }
    // the oldest line of the tail (or this one, when there is no tail) is left out
    let out = line;
    if (this.tailMax > 0) {
      out = this.tail[this.next]!;
      this.tail[this.next] = line;
      this.next = (this.next + 1) % this.tailMax;
    }
    if (this.omitted) {
      this.omitted.count++;
      this.omitted.toOffsetSeconds = out.offsetSeconds;
    } else {
      this.omitted = { afterLine: this.headMax, count: 1, fromOffsetSeconds: out.offsetSeconds, toOffsetSeconds: out.offsetSeconds };
    }
  }

  result(): KeptLines {
    const lines = [...this.head, ...this.tail.slice(this.next), ...this.tail.slice(0, this.next)];
    return { lines, omitted: this.omitted && { ...this.omitted } };
  }
}
