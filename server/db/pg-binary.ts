/**
 * PostgreSQL's binary wire forms of the values the search indexer sends in bulk (node-pg sends a Buffer
 * parameter in binary): arrays (array_send) of text and of tsvector (tsvector_send). In text form each
 * array was one literal that node-pg escaped and PostgreSQL parsed character by character — ~130 MB of it
 * per 60 MB of recording text; in binary form PostgreSQL copies the elements (test/bench/search.ts:
 * PostgreSQL's CPU for indexing −20–30 %).
 *
 * array_send: int32 dimensions (1), int32 has-nulls (0), uint32 element type, int32 length, int32 lower
 * bound (1), then each element as int32 size and its bytes.
 * tsvector_send: int32 number of lexemes; for each, its UTF-8 bytes and a 0 byte, uint16 number of
 * positions, then each position as uint16 (weight D: the top two bits 0). PostgreSQL checks the sizes
 * and that positions rise, and sorts the lexemes itself.
 */
import type { TsvectorEntries } from '../core/search-tokens.js';

const TEXT_OID = 25;
const TSVECTOR_OID = 3614;
const HEADER = 20;

function arrayHeader(buf: Buffer, elementOid: number, length: number): number {
  let off = buf.writeInt32BE(1, 0);
  off = buf.writeInt32BE(0, off);
  off = buf.writeUInt32BE(elementOid, off);
  off = buf.writeInt32BE(length, off);
  return buf.writeInt32BE(1, off);
}

/** UTF-8 size of `s`, counted in JavaScript when it is ASCII (lexemes nearly always are: no native call) */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s);
  return s.length;
}

/** A text[] in binary form. */
export function textArraySend(texts: readonly string[]): Buffer {
  let size = HEADER;
  const lengths = texts.map((t) => Buffer.byteLength(t));
  for (const n of lengths) size += 4 + n;
  const buf = Buffer.allocUnsafe(size);
  let off = arrayHeader(buf, TEXT_OID, texts.length);
  for (let i = 0; i < texts.length; i++) {
    off = buf.writeInt32BE(lengths[i]!, off);
    off += buf.write(texts[i]!, off);
  }
  return buf;
}

/**
 * A tsvector[] in binary form, built one tsvector at a time (each from its entries as tsvectorEntries gives
 * them: distinct lexemes, rising positions), so that no entries outlive their segment's turn.
 */
export class TsvectorArrayWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private off = HEADER;
  private count = 0;

  get length(): number {
    return this.count;
  }

  add({ lexemes, positions }: TsvectorEntries): void {
    let size = 8;
    for (let k = 0; k < lexemes.length; k++) size += utf8Length(lexemes[k]!) + 3 + 2 * positions[k]!.length;
    this.ensure(size);
    const buf = this.buf;
    const start = this.off;
    let off = buf.writeInt32BE(lexemes.length, start + 4);
    for (let k = 0; k < lexemes.length; k++) {
      const lexeme = lexemes[k]!;
      const n = utf8Length(lexeme);
      if (n === lexeme.length) for (let i = 0; i < n; i++) buf[off++] = lexeme.charCodeAt(i);
      else off += buf.write(lexeme, off);
      buf[off++] = 0;
      const p = positions[k]!;
      buf[off++] = p.length >> 8;
      buf[off++] = p.length & 0xff;
      for (let j = 0; j < p.length; j++) {
        buf[off++] = p[j]! >> 8;
        buf[off++] = p[j]! & 0xff;
      }
    }
    if (off !== start + size) throw new Error(`tsvector encoding: wrote ${off - start} of ${size} bytes`);
    buf.writeInt32BE(size - 4, start);
    this.off = off;
    this.count++;
  }

  /** The array: the bytes written so far, with its header (the writer is not used after). */
  finish(): Buffer {
    arrayHeader(this.buf, TSVECTOR_OID, this.count);
    return this.buf.subarray(0, this.off);
  }

  private ensure(bytes: number): void {
    if (this.off + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.off + bytes));
    this.buf.copy(bigger, 0, 0, this.off);
    this.buf = bigger;
  }
}
