/**
 * Reads a recording in pieces from a byte offset, for the search indexer that follows a file while
 * the proxy is still appending to it. The recording is asciicast v2, one event per line, and the
 * proxy writes whole lines only (proxy/recording/recorder.ts), so a piece ends at a line end: the
 * next read starts on a whole line and never inside a UTF-8 character. The lines themselves are
 * walked by server/core/typed-lines.ts. Lines are given as text, decoded together, except each "b"
 * event and the display event after it, given as bytes (views of the piece read): the walk decodes
 * neither a "b" event's base64 nor the display form of binary bytes (decoding random bytes' display
 * form, U+FFFD and escapes, cost ~9 ns a byte), while a session's many short lines keep one decoding.
 * At the end of a finalised recording the last line is given even without its "\n" (a torn tail is
 * then skipped as not JSON by the walk).
 * This is the one place that knows how a recording file is laid out for reading in pieces.
 */
import { open } from 'node:fs/promises';
import { LINE_CHARS, LineKeeper, type KeptLines } from '../core/evidence-typed-lines.js';
import { CastLineWalker } from '../core/typed-lines.js';
import { pacer, type Pace } from './pacing.js';

export interface RecordingPiece {
  /** whole lines, without their "\n": text, or bytes for "b" events and their display events */
  lines: (string | Buffer)[];
  /** where the next piece starts (after the last "\n" given) */
  nextOffset: number;
  /** true when the file has nothing more after nextOffset (for now, if it is still growing) */
  atEnd: boolean;
}

/** a line longer than this cannot be held: the recorder's events are far shorter */
const MAX_LINE_BYTES = 64 * 1024 * 1024;
const NL = 0x0a;

/**
 * Up to about maxBytes of whole lines from `offset` (more when one line is longer). `final`: the file
 * is complete, so a last line without "\n" counts too.
 */
export async function readRecordingPiece(path: string, offset: number, maxBytes: number, final: boolean): Promise<RecordingPiece> {
  const file = await open(path, 'r');
  try {
    let want = maxBytes;
    for (;;) {
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await file.read(buf, got, want - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const eof = got < want;
      const lastNl = buf.lastIndexOf(NL, got - 1);
      if (got === 0) return { lines: [], nextOffset: offset, atEnd: true };
      if (eof && final) {
        return { lines: splitLines(buf.subarray(0, got)), nextOffset: offset + got, atEnd: true };
      }
      if (lastNl >= 0) {
        return { lines: splitLines(buf.subarray(0, lastNl)), nextOffset: offset + lastNl + 1, atEnd: eof && lastNl === got - 1 };
      }
      // no line end yet: a line still being written (wait for it), or one longer than this read
      if (eof) return { lines: [], nextOffset: offset, atEnd: true };
      if (want >= MAX_LINE_BYTES) throw new Error(`recording ${path}: a line at byte ${offset} is longer than ${MAX_LINE_BYTES} bytes`);
      want = Math.min(want * 2, MAX_LINE_BYTES);
    }
  } finally {
    await file.close();
  }
}

/** a first line this long is given as bytes too */
const LONG_FIRST_LINE = 64 * 1024;

/** `, "b", "` appears in a cast only as a "b" event's own (a quote inside a JSON string is escaped) */
const BINARY_MARK = Buffer.from(', "b", "');

/**
 * What was typed in a finalised recording (its input lines, as the evidence bundle lists them), read 4 MiB
 * at a time with the walk paced (pacing.ts): a recording of any size — larger than the longest string
 * V8 can hold, 512 MiB, which a whole-file read could not decode — without holding the event loop.
 * Lines are cut at LINE_CHARS and at most `limit` of them kept (core/evidence-typed-lines.ts), so neither
 * a line nor the list can outgrow what a bundle holds. Null when the file cannot be read.
 */
export async function typedLinesOf(path: string, limit: number, pace: Pace = pacer(4)): Promise<KeptLines | null> {
  const walker = new CastLineWalker({ maxLineChars: LINE_CHARS });
  const typed = new LineKeeper(limit);
  let offset = 0;
  try {
    for (;;) {
      const piece = await readRecordingPiece(path, offset, 4 * 1024 * 1024, true);
      for (const line of piece.lines) {
        walker.line(line);
        const wait = pace();
        if (wait) await wait;
      }
      if (piece.atEnd) walker.finish();
      for (const line of walker.take().input) typed.push(line);
      if (piece.atEnd) return typed.result();
      offset = piece.nextOffset;
    }
  } catch {
    return null;
  }
}

function splitLines(bytes: Buffer): (string | Buffer)[] {
  const end = bytes.length;
  const lineEnd = (at: number) => {
    const nl = bytes.indexOf(NL, at);
    return nl === -1 ? end : nl;
  };
  const first = lineEnd(0);
  if (first < LONG_FIRST_LINE && bytes.indexOf(BINARY_MARK) === -1) return bytes.toString('utf8').split('\n');
  const lines: (string | Buffer)[] = [];
  const asText = (from: number, to: number) => {
    for (const line of bytes.toString('utf8', from, to).split('\n')) lines.push(line);
  };
  /** the line at `from` as bytes; returns where the next one starts */
  const asBytes = (from: number): number => {
    const to = lineEnd(from);
    lines.push(bytes.subarray(from, to));
    return to + 1;
  };
  // a long first line may be the display event of a "b" event that ended the piece before
  let from = first >= LONG_FIRST_LINE ? asBytes(0) : 0;
  for (let mark = bytes.indexOf(BINARY_MARK, from); mark !== -1 && from <= end; mark = bytes.indexOf(BINARY_MARK, from)) {
    const start = bytes.lastIndexOf(NL, mark) + 1; // the "b" event's line (from is a line start: start >= from)
    if (start > from) asText(from, start - 1);
    from = asBytes(start);
    if (from <= end) from = asBytes(from); // its display event
  }
  if (from <= end) asText(from, end);
  return lines;
}
