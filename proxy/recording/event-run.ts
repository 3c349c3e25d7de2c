/**
 * The bytes of one stream gathered into the event line(s) they become, with the encoded size known exactly
 * on arrival (so the recorder's buffer bound holds without encoding twice):
 * - text run (valid UTF-8): one `[t, "o"|"i", "<text>"]` line, the text JSON-escaped;
 * - binary run (bytes kept exactly: not valid UTF-8, or mostly NUL; asciicast.ts castForm):
 *   `[t, "b", "<stream>:<base64>"]`, then `[t, "o"|"i", "<display>"]`, the same bytes as a terminal shows
 *   them (asciicast.ts explains the pair).
 * Base64 is encoded piece by piece (natively) with 0-2 bytes carried between pieces; no raw bytes are kept.
 */
import { encodeEventBuffer, type CastStream } from './asciicast.js';

/** bytes one line adds besides its data: `[1234567.123456, "o", ""]\n` is 26 */
export const LINE_OVERHEAD = 32;
const base64Length = (bytes: number): number => 4 * Math.ceil(bytes / 3);

/** Encoded size of a run holding `rawBytes` bytes whose JSON-escaped display form is `escapedBytes` long. */
export function runSize(binary: boolean, rawBytes: number, escapedBytes: number): number {
  return LINE_OVERHEAD + escapedBytes + (binary ? LINE_OVERHEAD + 2 + base64Length(rawBytes) : 0);
}

export class EventRun {
  private readonly display: (string | Buffer)[] = [];
  private displayBytes = 0;
  private readonly base64: string[];
  private rawBytes = 0;
  private carry: Buffer | null = null; // 0-2 bytes not yet base64-encoded

  /** `t`: event time in seconds; `ms`: clock time the run started. */
  constructor(readonly stream: CastStream, readonly binary: boolean, readonly t: number, readonly ms: number) {
    this.base64 = [`${stream}:`];
  }

  /** Encoded size of the lines so far. */
  get size(): number {
    return runSize(this.binary, this.rawBytes, this.displayBytes);
  }

  /** Size growth if `rawBytes` more bytes with `escapedBytes` of escaped display form were added. */
  growth(rawBytes: number, escapedBytes: number): number {
    return runSize(this.binary, this.rawBytes + rawBytes, this.displayBytes + escapedBytes) - this.size;
  }

  /** `escaped`: the display form, JSON-escaped (castForm; a string or its UTF-8 bytes), `escapedBytes` its UTF-8 length. */
  add(bytes: Buffer, escaped: string | Buffer, escapedBytes: number): void {
    this.display.push(escaped);
    this.displayBytes += escapedBytes;
    if (this.binary) this.addBase64(bytes);
  }

  /** The encoded line(s), "\n" included: one for a text run, the "b" line and its display line for binary. */
  lines(): Buffer[] {
    const display = encodeEventBuffer(this.t, this.stream, this.display, this.displayBytes);
    if (!this.binary) return [display];
    if (this.carry) this.base64.push(this.carry.toString('base64'));
    this.carry = null;
    const exact = encodeEventBuffer(this.t, 'b', this.base64, 2 + base64Length(this.rawBytes));
    return [exact, display];
  }

  private addBase64(bytes: Buffer): void {
    this.rawBytes += bytes.length;
    let from = 0;
    if (this.carry) {
      from = Math.min(bytes.length, 3 - this.carry.length);
      const joined = Buffer.concat([this.carry, bytes.subarray(0, from)]);
      if (joined.length < 3) {
        this.carry = joined;
        return;
      }
      this.base64.push(joined.toString('base64'));
    }
    const end = from + Math.floor((bytes.length - from) / 3) * 3;
    if (end > from) this.base64.push(bytes.subarray(from, end).toString('base64'));
    this.carry = end < bytes.length ? Buffer.from(bytes.subarray(end)) : null;
  }
}
