/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/) — pure code, no I/O.
 *
 * - encodeHeader / encodeEvent return ONE line of JSON *without* the trailing "\n".
 *   Event times are seconds since the start with 6 decimals, e.g. `[1.250000, "o", "hi"]`.
 * - parseCast validates a whole (or partially written) file and throws CastParseError on malformed input;
 *   CastReader does the same one line at a time (for files too large for one string).
 *
 * Recording completeness (SPEC §8.2: nothing is replaced by a placeholder). Valid UTF-8 is kept verbatim in
 * "o"/"i" events (control characters are merely JSON-escaped). Bytes that are not valid UTF-8 (and pieces
 * mostly of NUL bytes, castForm) are kept exactly in a Portcullis event type, `[t, "b", "<stream>:<base64>"]`
 * (stream "o" or "i"), which is ALWAYS followed by one event of that stream with the same time: the
 * *display form* of the same bytes (decoded with U+FFFD for invalid sequences, as a terminal shows them,
 * without the NUL characters a terminal ignores). Players render the display form; an
 * auditor's extraction (extract.ts) takes the "b" bytes instead of it. The v2 spec tells tools to ignore
 * event types they do not know: asciinema 2.2 `cat`/`play` print only "o" events, asciinema-player 3.x
 * ignores unknown types (and only "m" events become timeline markers, so binary output does not flood them).
 * Everything stays in the one file, so the recording's SHA-256 covers it.
 * Why in the cast and not in a sidecar file: the one file keeps the hash chained into the audit log, the
 * download, crash recovery (a torn tail loses at most the last lines) and the live watch unchanged, and
 * base64 is native and costs 4/3. Where cost matters later, the writer may shrink the display form (it is
 * only what a player shows) or move "b" payloads elsewhere; readers go through extract.ts either way.
 */
import { escapedDisplayBytes } from './display-form.js';

export type CastEventCode = 'o' | 'i' | 'r' | 'm' | 'b';
/** the streams whose bytes a "b" event can carry */
export type CastStream = 'o' | 'i';
const CODES: ReadonlySet<string> = new Set(['o', 'i', 'r', 'm', 'b']);
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;
/** `"o:"` or `"i:"` and canonical padded base64 (checked without a backtracking regex: data may be MiBs) */
function isBinaryData(data: string): boolean {
  if (data.length < 2 || (data[0] !== 'o' && data[0] !== 'i') || data[1] !== ':' || (data.length - 2) % 4 !== 0) return false;
  const pad = data.indexOf('=', 2);
  return !NOT_BASE64.test(data.slice(2)) && (pad === -1 || (pad >= data.length - 2 && data.endsWith('=')));
}

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
/**
 * allowTruncatedTail: ignore an unparsable last line without "\n", and a "b" event whose display event is
 * missing at the very end (a writer killed mid-write).
 */
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
 * .slice(1, -1)`, or those UTF-8 bytes themselves; base64 needs no escaping), `escapedBytes` their UTF-8 size.
 * Coalesces chunks without building large strings.
 */
export function encodeEventBuffer(t: number, code: CastEventCode, escaped: readonly (string | Uint8Array)[], escapedBytes: number): Buffer {
  const head = eventHead(t, code) + '"';
  const buf = Buffer.allocUnsafe(head.length + escapedBytes + 3);
  let off = buf.write(head, 0, 'latin1');
  for (const piece of escaped) {
    if (typeof piece === 'string') off += buf.write(piece, off);
    else if (off + piece.length <= head.length + escapedBytes) off += (buf.set(piece, off), piece.length);
    else throw new RangeError('escapedBytes does not match the escaped data');
  }
  if (off !== head.length + escapedBytes) throw new RangeError('escapedBytes does not match the escaped data');
  buf.write('"]\n', off, 'latin1');
  return buf;
}

const ZEROS = Buffer.alloc(64 * 1024);
/** True when every byte of `bytes` is 0 (one native compare per 64 KiB). */
function isAllZero(bytes: Buffer): boolean {
  for (let off = 0; off < bytes.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, bytes.length - off);
    if (!bytes.subarray(off, off + n).equals(n === ZEROS.length ? ZEROS : ZEROS.subarray(0, n))) return false;
  }
  return true;
}

/** How some bytes of a stream go into the cast: `escaped` is the JSON-escaped data of the "o"/"i" event. */
export interface CastForm {
  /** kept exactly in a "b" event, `escaped` being the display form after it */
  exact: boolean;
  /** a string, or its UTF-8 bytes (the display form of bytes that are not valid UTF-8: display-form.ts) */
  escaped: string | Buffer;
  /** UTF-8 size of `escaped` */
  escapedBytes: number;
}

/** From this size on, a piece that is more than a quarter NUL bytes is kept exactly (see castForm). */
const NUL_PIECE = 64;
const escape = (text: string): string => JSON.stringify(text).slice(1, -1);
const formOf = (exact: boolean, escaped: string): CastForm => ({ exact, escaped, escapedBytes: Buffer.byteLength(escaped) });

/**
 * How `bytes` (ending on a character boundary, `valid` when they are valid UTF-8) are recorded:
 * - valid UTF-8 is text: `escaped` is `JSON.stringify(bytes.toString('utf8')).slice(1, -1)`;
 * - bytes that are not valid UTF-8 are exact ("b" event), and so is a piece of at least 64 bytes more than a
 *   quarter of which are NUL: as text each NUL costs 6 bytes ("\u0000"), in base64 4/3 (a 256 MiB
 *   `head -c N /dev/zero` was a 1.5 GiB recording). The display form of exact bytes leaves out the NUL
 *   characters, which terminals (and asciinema's and xterm.js's emulators) ignore: what a player shows is
 *   unchanged, and a run of NULs has an empty display form, produced without decoding. The display form of
 *   bytes that are not valid UTF-8 is built as UTF-8 bytes in one pass (display-form.ts: the same bytes
 *   as escaping their decoding, at a fraction of the cost — random binary output took ~57 ns a byte).
 */
export function castForm(bytes: Buffer, valid: boolean): CastForm {
  if (bytes.length >= 16 && bytes[0] === 0 && isAllZero(bytes)) return formOf(true, '');
  if (!valid) {
    const escaped = escapedDisplayBytes(bytes); // the same bytes as escape(text without NULs), in one pass
    return { exact: true, escaped, escapedBytes: escaped.length };
  }
  const text = bytes.toString('utf8');
  if (bytes.indexOf(0) === -1) return formOf(false, escape(text));
  const shown = text.replaceAll('\0', '');
  const exact = bytes.length >= NUL_PIECE && (text.length - shown.length) * 4 > bytes.length;
  return formOf(exact, escape(exact ? shown : text));
}

/** The bytes a "b" event carries (its data must have passed parseCast / CastReader). */
export function binaryEventBytes(data: string): { stream: CastStream; bytes: Buffer } {
  return { stream: data[0] as CastStream, bytes: Buffer.from(data.slice(2), 'base64') };
}

export class CastParseError extends Error {
  constructor(message: string, readonly line: number) {
    super(`invalid asciicast v2 (line ${line}): ${message}`);
    this.name = 'CastParseError';
  }
}

/** Validates a cast one line at a time: the header first, then events in time order. */
export class CastReader {
  header: CastHeader | undefined;
  private lineNo = 0;
  private previousTime = 0;
  private awaiting: { stream: CastStream; time: number; line: number } | null = null; // a "b" wants its display event

  /** One line without its "\n" (a trailing "\r" is ignored). Returns the event; null for the header or a blank line. */
  read(raw: string): CastEvent | null {
    const lineNo = ++this.lineNo;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return null;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new CastParseError(`not valid JSON (${(e as Error).message})`, lineNo);
    }
    if (!this.header) {
      this.header = checkHeader(value, lineNo);
      return null;
    }
    const event = checkEvent(value, lineNo, this.previousTime);
    this.previousTime = event.time;
    const wanted = this.awaiting;
    if (wanted && (event.code !== wanted.stream || event.time !== wanted.time)) {
      throw new CastParseError(`the "b" event on line ${wanted.line} must be followed by its "${wanted.stream}" display event at the same time`, lineNo);
    }
    this.awaiting = event.code === 'b' ? { stream: event.data[0] as CastStream, time: event.time, line: lineNo } : null;
    return event;
  }

  /** The end of the input: throws when there was no header, or a "b" event lacks its display event. */
  end(options: ParseCastOptions = {}): CastHeader {
    if (!this.header) throw new CastParseError('empty input, expected a header line', 1);
    if (this.awaiting && !options.allowTruncatedTail) {
      throw new CastParseError(`the "b" event on line ${this.awaiting.line} has no display event after it`, this.awaiting.line);
    }
    return this.header;
  }

  get linesRead(): number {
    return this.lineNo;
  }
}

export function parseCast(text: string, options: ParseCastOptions = {}): ParsedCast {
  const lines = text.split('\n');
  const reader = new CastReader();
  const events: CastEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    let event: CastEvent | null;
    try {
      event = reader.read(lines[i]);
    } catch (e) {
      const tornTail = options.allowTruncatedTail && reader.header && i === lines.length - 1 && /not valid JSON/.test((e as Error).message);
      if (tornTail) break;
      throw e;
    }
    if (event) events.push(event);
  }
  return { header: reader.end(options), events };
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
  if (code === 'b' && !isBinaryData(data)) throw new CastParseError('binary data must be "o:" or "i:" followed by base64', line);
  return { time, code: code as CastEventCode, data };
}
