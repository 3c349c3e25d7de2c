/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/) — pure code, no I/O.
 *
 * - encodeHeader / encodeEvent return ONE line of JSON *without* the trailing "\n".
 *   Event times are seconds since the start with 6 decimals, e.g. `[1.250000, "o", "hi"]`.
 * - parseCast validates a whole (or partially written) file and throws CastParseError on malformed input.
 * - OutputSanitizer turns raw terminal output bytes into text for "o" events:
 *   * UTF-8 is decoded with a streaming StringDecoder, so characters split across chunks survive.
 *   * "Bad" characters: C0 controls other than BEL BS HT LF VT FF CR SO SI ESC, and U+FFFD (invalid
 *     UTF-8). JSON escapes a control byte as `\u0000` (6 bytes): binary output would grow ~6x. A binary
 *     region starts when ENTER_BAD (16) bad characters follow each other with at most GAP (8) good ones
 *     in between, and ends after RESUME (64) good characters in a row or on flush() (the recorder calls
 *     it every interval). It is replaced by `[portcullis: N bytes of binary output not recorded]`; N counts
 *     raw bytes (an invalid UTF-8 sequence counts as one, so garbage may be slightly undercounted). The
 *     first <16 bad characters before detection, and sparse controls in normal text, are kept (escaped).
 *   * Fast path: one native regex test per chunk; only chunks with bad characters are scanned per char.
 */
import { StringDecoder } from 'node:string_decoder';

export type CastEventCode = 'o' | 'i' | 'r' | 'm';
const CODES: ReadonlySet<string> = new Set(['o', 'i', 'r', 'm']);

/** timestamp: unix seconds (fractions are dropped). */
export interface CastHeaderInput { width: number; height: number; timestamp: number; title: string; command?: string; env?: Record<string, string> }

export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp?: number;
  title?: string;
  command?: string;
  env?: Record<string, string | null>;
  [key: string]: unknown;
}

export interface CastEvent { time: number /* seconds since the start */; code: CastEventCode; data: string }
export interface ParsedCast { header: CastHeader; events: CastEvent[] }
/** allowTruncatedTail: ignore an unparsable last line without "\n" (a writer killed mid-line). */
export interface ParseCastOptions { allowTruncatedTail?: boolean }

const isDim = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

export function encodeHeader(h: CastHeaderInput): string {
  if (!isDim(h.width) || !isDim(h.height)) throw new RangeError('asciicast width/height must be positive integers');
  if (!Number.isFinite(h.timestamp) || h.timestamp < 0) throw new RangeError('asciicast timestamp must be unix seconds');
  const header: Record<string, unknown> = { version: 2, width: h.width, height: h.height, timestamp: Math.floor(h.timestamp), title: h.title };
  if (h.command !== undefined) header.command = h.command;
  if (h.env !== undefined) header.env = h.env;
  return JSON.stringify(header);
}

/** `t` in seconds, formatted with 6 decimals. */
export function formatTime(t: number): string {
  if (!Number.isFinite(t) || t < 0) throw new RangeError(`asciicast event time must be a finite number >= 0, got ${t}`);
  return t.toFixed(6);
}

function eventHead(t: number, code: CastEventCode): string {
  if (!CODES.has(code)) throw new RangeError(`unknown asciicast event type ${JSON.stringify(code)}`);
  return `[${formatTime(t)}, "${code}", `;
}

export function encodeEvent(t: number, code: CastEventCode, data: string): string {
  return `${eventHead(t, code)}${JSON.stringify(data)}]`;
}

/**
 * One event line, "\n" included, as a Buffer. `escaped`: JSON-escaped pieces of the data (`JSON.stringify(piece)
 * .slice(1, -1)`), `escapedBytes` their UTF-8 size. Coalesces chunks without building large strings.
 */
export function encodeEventBuffer(t: number, code: CastEventCode, escaped: readonly string[], escapedBytes: number): Buffer {
  const head = eventHead(t, code) + '"';
  const buf = Buffer.allocUnsafe(head.length + escapedBytes + 3);
  let off = buf.write(head, 0, 'latin1');
  for (const piece of escaped) off += buf.write(piece, off);
  if (off !== head.length + escapedBytes) throw new RangeError('escapedBytes does not match the escaped data');
  buf.write('"]\n', off, 'latin1');
  return buf;
}

export class CastParseError extends Error {
  constructor(message: string, readonly line: number) {
    super(`invalid asciicast v2 (line ${line}): ${message}`);
    this.name = 'CastParseError';
  }
}

export function parseCast(text: string, options: ParseCastOptions = {}): ParsedCast {
  const lines = text.split('\n');
  let header: CastHeader | undefined;
  const events: CastEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      if (options.allowTruncatedTail && header && i === lines.length - 1) break;
      throw new CastParseError(`not valid JSON (${(e as Error).message})`, i + 1);
    }
    if (!header) header = checkHeader(value, i + 1);
    else events.push(checkEvent(value, i + 1, events.length ? events[events.length - 1].time : 0));
  }
  if (!header) throw new CastParseError('empty input, expected a header line', 1);
  return { header, events };
}

function checkHeader(value: unknown, line: number): CastHeader {
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject) throw new CastParseError('the first line must be a JSON object (the header)', line);
  const h = value as Record<string, unknown>;
  const v = h.version === undefined ? 'no version' : `version ${JSON.stringify(h.version)}`;
  if (h.version !== 2) throw new CastParseError(`unsupported header (${v}); only asciicast v2 is supported`, line);
  if (!isDim(h.width) || !isDim(h.height)) throw new CastParseError('header width/height must be positive integers', line);
  if (h.timestamp !== undefined && !Number.isFinite(h.timestamp)) throw new CastParseError('header timestamp must be a number', line);
  for (const key of ['title', 'command'] as const) {
    if (h[key] != null && typeof h[key] !== 'string') throw new CastParseError(`header ${key} must be a string`, line);
  }
  const env = h.env ?? {};
  if (typeof env !== 'object' || Array.isArray(env) || Object.values(env).some((x) => x !== null && typeof x !== 'string')) {
    throw new CastParseError('header env must be an object of strings', line);
  }
  return h as CastHeader;
}

function checkEvent(value: unknown, line: number, previousTime: number): CastEvent {
  if (!Array.isArray(value) || value.length !== 3) throw new CastParseError('an event must be a [time, type, data] array', line);
  const [time, code, data] = value as unknown[];
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) throw new CastParseError('event time must be a number >= 0', line);
  if (time < previousTime) throw new CastParseError(`event time ${time} is before the previous event (${previousTime})`, line);
  if (typeof code !== 'string' || !CODES.has(code)) throw new CastParseError(`unknown event type ${JSON.stringify(code)}`, line);
  if (typeof data !== 'string') throw new CastParseError('event data must be a string', line);
  if (code === 'r' && !/^\d+x\d+$/.test(data)) throw new CastParseError(`resize data must be "COLSxROWS", got ${JSON.stringify(data)}`, line);
  return { time, code: code as CastEventCode, data };
}

// Output sanitizer (see the file header).
const SUSPECT = /[\x00-\x06\x10-\x1a\x1c-\x1f\ufffd]/;
const [ENTER_BAD, GAP, RESUME] = [16, 8, 64];
const isBad = (c: number): boolean => c === 0xfffd || (c < 0x20 && (c < 0x07 || c > 0x0f) && c !== 0x1b);

/** Raw byte length of s[a, b) as received (a U+FFFD stands for one invalid byte). */
function rawLength(s: string, a: number, b: number): number {
  let n = 0;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 || c === 0xfffd ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
  }
  return n;
}

const ZEROS = new Uint8Array(64 * 1024);
/** true when every byte is 0 (memcmp against a zero page, 64 KiB at a time) */
function isAllZero(chunk: Uint8Array): boolean {
  if (chunk.length === 0) return false;
  for (let off = 0; off < chunk.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, chunk.length - off);
    if (Buffer.compare(chunk.subarray(off, off + n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}

export const binaryPlaceholder = (bytes: number): string => `\r\n[portcullis: ${bytes} bytes of binary output not recorded]\r\n`;

export class OutputSanitizer {
  /** Raw bytes replaced by placeholders so far (including an open region). */
  omittedBytes = 0;
  private readonly decoder = new StringDecoder('utf8');
  private binary = false;
  private region = 0; // bytes omitted in the open binary region
  private held = ''; // good characters seen since the last bad one while in a binary region (< RESUME)
  private candidate = 0; // bad characters in the current candidate region (text mode)
  private sinceBad = Infinity; // good characters since the last bad one (text mode)

  /** Text to record for this chunk (may be empty; may contain a placeholder). */
  write(chunk: Uint8Array): string {
    // Fast path (benchmark: binary download fell to ~28 MiB/s with the proxy's CPU in filter/rawLength):
    // inside a binary region a chunk of NUL bytes — /dev/zero, zero-filled images, sparse files — cannot
    // end the region, so it is counted with one native compare instead of a per-character scan. Same
    // result as filter(): any held characters join the region, every NUL is one omitted byte. Not taken
    // while the decoder holds part of a character (the next byte would turn it into U+FFFD).
    if (this.binary && isAllZero(chunk) && (this.decoder as unknown as { lastNeed: number }).lastNeed === 0) {
      if (this.held) {
        this.omit(rawLength(this.held, 0, this.held.length));
        this.held = '';
      }
      this.omit(chunk.length);
      return '';
    }
    return this.filter(this.decoder.write(chunk as Buffer));
  }

  /** Ends an open binary region: returns its placeholder plus text held back after it. */
  flush(): string {
    return this.binary ? this.leaveBinary() : '';
  }

  /** End of stream: decodes an incomplete trailing sequence (as U+FFFD) and flushes. */
  end(): string {
    return this.filter(this.decoder.end()) + this.flush();
  }

  private filter(s: string): string {
    if (!this.binary && !SUSPECT.test(s)) {
      this.sinceBad += s.length;
      return s;
    }
    let out = '';
    let from = 0; // text mode: first character not yet returned; binary mode: first one not yet counted
    let candStart = this.candidate > 0 ? 0 : -1;
    let lastBad = -1 - this.sinceBad;
    let good = this.held.length; // binary mode: good characters in a row, including held ones
    for (let i = 0; i < s.length; i++) {
      const bad = isBad(s.charCodeAt(i));
      if (this.binary) {
        if (bad) {
          good = 0;
          if (this.held) {
            this.omit(rawLength(this.held, 0, this.held.length));
            this.held = '';
          }
        } else if (++good >= RESUME) {
          const runStart = i + 1 - good + this.held.length; // s[runStart, ...) continues as ordinary text
          this.omit(rawLength(s, from, runStart));
          out += this.leaveBinary();
          from = runStart;
          candStart = -1;
          lastBad = -Infinity;
        }
      } else if (bad) {
        if (candStart < 0 || i - lastBad > GAP + 1) {
          candStart = i;
          this.candidate = 0;
        }
        lastBad = i;
        if (++this.candidate >= ENTER_BAD) {
          out += s.slice(from, candStart);
          this.binary = true;
          from = candStart;
          good = 0;
        }
      }
    }
    if (this.binary) {
      const runStart = s.length - good + this.held.length;
      this.omit(rawLength(s, from, runStart));
      this.held += s.slice(runStart);
    } else {
      out += s.slice(from);
      this.sinceBad = s.length - 1 - lastBad;
      if (this.sinceBad > GAP) this.candidate = 0;
    }
    return out;
  }

  private leaveBinary(): string {
    const out = binaryPlaceholder(this.region) + this.held;
    this.binary = false;
    this.region = 0;
    this.held = '';
    this.candidate = 0;
    this.sinceBad = Infinity;
    return out;
  }

  private omit(bytes: number): void {
    this.region += bytes;
    this.omittedBytes += bytes;
  }
}
