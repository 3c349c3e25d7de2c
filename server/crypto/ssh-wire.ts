/**
 * SSH wire-format primitives (RFC 4251 §5): uint32, uint64, string, mpint, name-list.
 *
 * The reader never reads past its buffer: every truncation or malformed field throws
 * `invalid(...)` (an AppError), so callers parsing untrusted input get a 400-style error
 * instead of a RangeError. Returned buffers are views into the input, not copies.
 */
import { invalid } from '../core/errors.js';

const MAX_UINT64 = (1n << 64n) - 1n;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Sequential reader over an SSH-encoded buffer. `what` names the data in error messages. */
export class SshReader {
  private offset = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what = 'SSH data',
  ) {}

  /** Current read offset in bytes from the start of the buffer. */
  get position(): number {
    return this.offset;
  }

  private take(n: number): Buffer {
    if (n > this.buf.length - this.offset) throw invalid(`${this.what} is truncated`);
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** uint32, big-endian. */
  uint32(): number {
    return this.take(4).readUInt32BE(0);
  }

  /** uint64, big-endian, as a bigint. */
  uint64(): bigint {
    return this.take(8).readBigUInt64BE(0);
  }

  /** A length-prefixed byte string. */
  string(): Buffer {
    return this.take(this.uint32());
  }

  /** A length-prefixed string that must be valid UTF-8. */
  utf8(): string {
    const bytes = this.string();
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      throw invalid(`${this.what} contains invalid UTF-8`);
    }
  }

  /** A non-negative mpint, returned as its unsigned big-endian magnitude without leading zeros. */
  mpint(): Buffer {
    const bytes = this.string();
    if (bytes.length > 0 && (bytes[0] & 0x80) !== 0) throw invalid(`${this.what} has a negative integer`);
    let i = 0;
    while (i < bytes.length && bytes[i] === 0) i++;
    return bytes.subarray(i);
  }

  /** Everything not read yet (consumes it). */
  rest(): Buffer {
    return this.take(this.buf.length - this.offset);
  }

  /** True when every byte has been read. */
  atEnd(): boolean {
    return this.offset === this.buf.length;
  }

  /** Throws `invalid` when bytes remain: trailing data is never silently ignored. */
  end(): void {
    if (!this.atEnd()) throw invalid(`${this.what} has trailing bytes`);
  }
}

/** Builds an SSH-encoded buffer; every method returns `this` for chaining. */
export class SshWriter {
  private readonly parts: Buffer[] = [];

  /** uint32, big-endian. */
  uint32(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw invalid('uint32 out of range');
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    this.parts.push(b);
    return this;
  }

  /** uint64, big-endian. */
  uint64(n: bigint): this {
    if (n < 0n || n > MAX_UINT64) throw invalid('uint64 out of range');
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n, 0);
    this.parts.push(b);
    return this;
  }

  /** A length-prefixed string (UTF-8 when given a JS string). */
  string(value: Buffer | string): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.uint32(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  /** A non-negative mpint from an unsigned big-endian magnitude (leading zeros allowed). */
  mpint(magnitude: Buffer): this {
    let i = 0;
    while (i < magnitude.length && magnitude[i] === 0) i++;
    const m = magnitude.subarray(i);
    return this.string(m.length > 0 && (m[0] & 0x80) !== 0 ? Buffer.concat([Buffer.alloc(1), m]) : m);
  }

  /** A name-list: the names joined by commas, as one string. */
  nameList(names: readonly string[]): this {
    return this.string(names.join(','));
  }

  /** Raw bytes, appended as they are. */
  raw(bytes: Buffer): this {
    this.parts.push(bytes);
    return this;
  }

  /** The encoded bytes. */
  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Shorthand for a single SSH string. */
export const sshString = (value: Buffer | string): Buffer => new SshWriter().string(value).toBuffer();
