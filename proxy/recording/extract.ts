/**
 * Gets back, byte for byte, what a session's device sent ("output") and what the technician typed or
 * piped in ("input", when input was recorded) from a recording written by recorder.ts:
 * - "o" / "i" events hold valid UTF-8 text: their data, UTF-8 encoded, is exactly the bytes received;
 * - a "b" event holds exact bytes (base64) of its stream; the display event right after it shows the same
 *   bytes and contributes nothing (asciicast.ts describes the pair);
 * - "r" and "m" events (resizes, broker markers) are not part of either stream.
 * The cast is validated as it is read (CastReader): a malformed recording throws CastParseError.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { binaryEventBytes, CastReader, type CastEvent, type CastHeader, type ParseCastOptions } from './asciicast.js';

export interface RecordedStreams {
  header: CastHeader;
  /** every byte the device sent, in order */
  output: Buffer;
  /** every byte recorded from the technician (empty when input was not recorded) */
  input: Buffer;
}

/** Collects the two streams from validated events, in file order. */
class StreamCollector {
  private readonly parts: Record<'o' | 'i', Buffer[]> = { o: [], i: [] };
  private skipDisplay = false;

  add(event: CastEvent): void {
    if (event.code === 'b') {
      const { stream, bytes } = binaryEventBytes(event.data);
      this.parts[stream].push(bytes);
      this.skipDisplay = true; // CastReader made sure the next event is this stream's display event
    } else if (event.code === 'o' || event.code === 'i') {
      if (!this.skipDisplay) this.parts[event.code].push(Buffer.from(event.data, 'utf8'));
      this.skipDisplay = false;
    }
  }

  result(header: CastHeader): RecordedStreams {
    return { header, output: Buffer.concat(this.parts.o), input: Buffer.concat(this.parts.i) };
  }
}

/** The exact output and input byte streams of a recording held in memory. */
export function extractStreams(cast: string | Buffer, options: ParseCastOptions = {}): RecordedStreams {
  const text = typeof cast === 'string' ? cast : cast.toString('utf8');
  const lines = text.split('\n');
  const reader = new CastReader();
  const collector = new StreamCollector();
  for (let i = 0; i < lines.length; i++) {
    let event: CastEvent | null;
    try {
      event = reader.read(lines[i]);
    } catch (e) {
      if (options.allowTruncatedTail && reader.header && i === lines.length - 1 && /not valid JSON/.test((e as Error).message)) break;
      throw e;
    }
    if (event) collector.add(event);
  }
  return collector.result(reader.end(options));
}

/**
 * The same for a recording file, read line by line (a recording may be larger than one string can hold).
 * Without allowTruncatedTail a torn last line (a proxy killed mid-write) is an error.
 */
export async function extractStreamsFromFile(path: string, options: ParseCastOptions = {}): Promise<RecordedStreams> {
  const reader = new CastReader();
  const collector = new StreamCollector();
  let pendingError: unknown = null; // a JSON error is forgiven only on the very last line
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (pendingError) throw pendingError;
    try {
      const event = reader.read(line);
      if (event) collector.add(event);
    } catch (e) {
      if (!(options.allowTruncatedTail && reader.header && /not valid JSON/.test((e as Error).message))) throw e;
      pendingError = e;
    }
  }
  return collector.result(reader.end(options));
}
