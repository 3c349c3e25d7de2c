/**
 * Cuts a byte stream into pieces that end on UTF-8 character boundaries, and says which are valid UTF-8.
 * - A multi-byte character split across chunks is held back (at most 3 bytes) and joined with the next
 *   chunk, so it is never mangled; end() hands back whatever is still held (an incomplete sequence).
 * - Validity is one native check per piece (buffer.isUtf8): no per-byte work in JavaScript. A valid piece
 *   decodes and re-encodes to exactly the same bytes (isUtf8 rejects overlong forms and surrogates).
 * - Pieces may share memory with the chunk given: a caller that keeps them must copy.
 * - slicePiece cuts a large piece into bounded slices, again on character boundaries.
 */
import { isUtf8 } from 'node:buffer';

export interface Utf8Piece { bytes: Buffer; valid: boolean }

/** How many bytes at the end of `buf` begin a UTF-8 sequence that `buf` does not complete (0-3). */
export function incompleteTail(buf: Uint8Array): number {
  const n = buf.length;
  for (let k = 1; k <= Math.min(3, n); k++) {
    const b = buf[n - k];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: its lead byte is further back
    const need = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 1;
    return need > k ? k : 0;
  }
  return 0; // three continuation bytes: complete (a 4-byte character) or invalid either way
}

export class Utf8Pieces {
  private held: Buffer | null = null;

  /** The complete part of (held bytes + chunk), or null when everything is held back. */
  write(chunk: Uint8Array): Utf8Piece | null {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.held) {
      buf = Buffer.concat([this.held, buf]);
      this.held = null;
    }
    const hold = incompleteTail(buf);
    if (hold > 0) {
      this.held = Buffer.from(buf.subarray(buf.length - hold)); // a copy: the caller may reuse its chunk
      buf = buf.subarray(0, buf.length - hold);
    }
    return buf.length > 0 ? { bytes: buf, valid: isUtf8(buf) } : null;
  }

  /** End of stream: the held bytes (an incomplete character, so not valid UTF-8), if any. */
  end(): Utf8Piece | null {
    const held = this.held;
    this.held = null;
    return held ? { bytes: held, valid: false } : null;
  }
}

/** `piece` cut into slices of at most `max` bytes (max >= 4), each ending on a character boundary where it can. */
export function* slicePiece(piece: Utf8Piece, max: number): Generator<Utf8Piece> {
  const { bytes } = piece;
  if (bytes.length <= max) {
    yield piece;
    return;
  }
  for (let off = 0; off < bytes.length;) {
    let end = Math.min(bytes.length, off + max);
    if (end < bytes.length) end -= incompleteTail(bytes.subarray(off, end));
    const slice = bytes.subarray(off, end);
    yield { bytes: slice, valid: piece.valid || isUtf8(slice) }; // a slice of valid UTF-8 cut on a boundary is valid
    off = end;
  }
}
