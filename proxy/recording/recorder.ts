/**
 * Incremental, bounded asciicast v2 recorder for one SSH session.
 * - The file is created exclusively (0600) and the header is on disk when createRecorder() resolves. One
 *   async append is in flight at a time; lines queued meanwhile go out together. Writes hold whole lines,
 *   so the file is a valid cast after every flush (the timer flushes every flushIntervalMs <= 1000 ms).
 * - Complete (SPEC §8.2): every byte given to output() — and to input() when recordInput — is in the file,
 *   none is replaced by a placeholder. Valid UTF-8 is kept verbatim; a run holding bytes that are not
 *   valid UTF-8 (or mostly NUL bytes) is written as a "b" event with the exact bytes (base64) followed by
 *   its display form (asciicast.ts castForm, event-run.ts). Characters split across chunks are joined first (utf8-pieces.ts).
 *   extract.ts gets the exact output and input byte streams back from the file.
 * - Coalescing: output chunks arriving within one interval become ONE "o" event (or one "b" + "o" pair)
 *   with the first chunk's time. A run ends on the timer tick, when the clock shows an interval has passed
 *   since it started, at runLimit bytes, when output switches between text and binary, or before a
 *   resize/marker/input event (keeps the order exact). Each input chunk is its own "i" event (or pair).
 * - Bounded: pendingBytes (queued + in flight + open run, encoded on arrival so sizes are exact) never
 *   exceeds maxBufferedBytes; part of it is reserved for resize/marker events. A caller that can slow its
 *   source does so with `congested` / `drained()` (the SSH relay does for output: then nothing is dropped
 *   unless a single burst outruns the whole buffer). Otherwise, if the disk cannot keep up, bytes are
 *   DROPPED rather than buffered without bound, counted in backlogBytesDropped and noted in a marker
 *   "recording backlog: N bytes not recorded" (a marker, so the output stream holds only what
 *   the device sent).
 * - close(): flush, fdatasync, close. The SHA-256 is computed as the bytes go to disk (native, in write
 *   order: one append at a time), so the file is never read back. Idempotent; later calls are ignored.
 *   After a failed write nothing more is written and flush()/close() reject with that error.
 * - Runs on the relay's thread for small recordings (SFTP sessions) and inside the recording worker for
 *   terminal sessions (worker-recorder.ts), where the worker drives `clock` and `timers`.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { castForm, encodeEvent, encodeHeader, type CastEventCode } from './asciicast.js';
import { EventRun, runSize } from './event-run.js';
import { slicePiece, Utf8Pieces, type Utf8Piece } from './utf8-pieces.js';

export interface RecorderClock { now(): number } // wall-clock ms (Date.now semantics)
export interface RecorderTimers { setInterval(fn: () => void, ms: number): unknown; clearInterval(handle: unknown): void }

export interface RecorderOptions {
  path: string;
  width: number; // columns
  height: number; // rows
  title: string;
  command?: string; // exec sessions: the command that was run
  env?: Record<string, string>;
  clock?: RecorderClock; // default Date.now
  timers?: RecorderTimers; // default global setInterval/clearInterval (the interval is unref'ed)
  flushIntervalMs?: number; // default 250, must be in (0, 1000]
  maxBufferedBytes?: number; // default 1 MiB, at least 16 KiB
  recordInput?: boolean; // record client keystrokes as "i" events; default false (the broker's RECORD_INPUT defaults to true)
}

export interface RecorderStats {
  bytesIn: number; // raw bytes given to output() (and input() when recordInput)
  bytesRecorded: number; // bytesIn - backlogBytesDropped
  bytesWritten: number; // file bytes written so far, header included
  events: number; // events queued, header excluded
  binaryBytes: number; // bytes kept exactly in "b" events (not valid UTF-8, or mostly NUL: castForm)
  backlogBytesDropped: number; // output/input dropped as the write backlog was full (or writing failed)
  pendingBytes: number; // encoded bytes in memory, not yet written; never above maxBufferedBytes
  backpressure: boolean; // pendingBytes above half of maxBufferedBytes: the disk is not keeping up
}

export interface RecordingResult { path: string; bytes: number; durationMs: number; sha256: string; events: number }

interface Config { clock: RecorderClock; timers: RecorderTimers; interval: number; max: number; dataCap: number; runLimit: number; sliceBytes: number; recordInput: boolean; startMs: number }
const isDim = (v: number): boolean => Number.isInteger(v) && v > 0;

/** Creates the file (exclusively) and writes the header before resolving. Same as Recorder.create(). */
export const createRecorder = (options: RecorderOptions): Promise<Recorder> => Recorder.create(options);

export class Recorder {
  static async create(o: RecorderOptions): Promise<Recorder> {
    const interval = o.flushIntervalMs ?? 250;
    if (!(interval > 0 && interval <= 1000)) throw new RangeError('flushIntervalMs must be in (0, 1000]');
    const max = o.maxBufferedBytes ?? 1024 * 1024;
    if (!Number.isInteger(max) || max < 16 * 1024) throw new RangeError('maxBufferedBytes must be an integer >= 16384');
    const clock = o.clock ?? { now: () => Date.now() };
    const startMs = clock.now();
    const header = Buffer.from(encodeHeader({ ...o, timestamp: startMs / 1000 }) + '\n'); // picks only header fields
    const fh = await open(o.path, 'ax', 0o600); // O_EXCL: never overwrite; O_APPEND: every write at the end
    await fh.appendFile(header).catch(async (e: unknown) => {
      await fh.close().catch(() => undefined);
      throw e;
    });
    const timers: RecorderTimers = o.timers ?? { setInterval, clearInterval };
    const dataCap = max - Math.min(64 * 1024, Math.floor(max / 8)); // output/input may use this, r/m events all of max
    const runLimit = Math.max(4096, Math.floor(dataCap / 8));
    // a slice encodes to at most ~7.4x its size (6 for a control character, "\u0001", + 4/3 for base64):
    // one always fits in a run
    const sliceBytes = Math.floor(runLimit / 8);
    const rec = new Recorder(o.path, fh, { clock, timers, interval, max, dataCap, runLimit, sliceBytes, recordInput: !!o.recordInput, startMs });
    rec.counts.bytesWritten = header.length;
    rec.hash.update(header);
    return rec;
  }

  private readonly outputPieces = new Utf8Pieces();
  private readonly inputPieces = new Utf8Pieces();
  private readonly listeners = new Set<(line: string) => void>();
  private readonly hash: Hash = createHash('sha256'); // of every byte handed to the file, in order
  private readonly timer: unknown;
  private readonly counts = { bytesIn: 0, bytesWritten: 0, events: 0, binaryBytes: 0, backlogBytesDropped: 0 };
  private run: EventRun | null = null; // open output run
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private inflightBytes = 0;
  private writing: Promise<void> | null = null;
  private writeError: unknown = null;
  private lastT = 0;
  private unreportedDrops = 0;
  private closing: Promise<RecordingResult> | null = null;
  private drainWaiters: (() => void)[] = [];

  private constructor(readonly path: string, private readonly fh: FileHandle, private readonly cfg: Config) {
    this.timer = cfg.timers.setInterval(() => this.flushPending(false), cfg.interval);
    (this.timer as { unref?: () => void } | null)?.unref?.();
  }

  /** Terminal output from the device. */
  output(chunk: Uint8Array): void {
    if (this.closing) return;
    this.counts.bytesIn += chunk.length;
    if (this.run && this.cfg.clock.now() - this.run.ms >= this.cfg.interval) this.endRun();
    const piece = this.outputPieces.write(chunk);
    if (piece) for (const slice of slicePiece(piece, this.cfg.sliceBytes)) this.append(slice);
  }

  /** Client keystrokes (and stdin of exec sessions); ignored unless recordInput. */
  input(chunk: Uint8Array): void {
    if (this.closing || !this.cfg.recordInput) return;
    this.counts.bytesIn += chunk.length;
    const piece = this.inputPieces.write(chunk);
    if (piece) for (const slice of slicePiece(piece, this.cfg.sliceBytes)) this.recordInput(slice);
  }

  /** Terminal size change ("r" event "COLSxROWS"); invalid sizes are ignored. */
  resize(cols: number, rows: number): void {
    if (!this.closing && isDim(cols) && isDim(rows)) this.control('r', `${cols}x${rows}`);
  }

  /** "m" event (warnings, revocation, ...). */
  marker(label: string): void {
    if (!this.closing) this.control('m', String(label));
  }

  /**
   * True while the recording is behind (pendingBytes above half of maxBufferedBytes) but can still catch
   * up: a relay that stops reading its source until drained() resolves keeps every byte in the recording
   * instead of having it dropped. False once closing or after a write error (nothing to wait for).
   */
  get congested(): boolean {
    return !this.writeError && !this.closing && this.pendingBytes() > this.cfg.max / 2;
  }

  /** Resolves once pendingBytes is down to a quarter of maxBufferedBytes, or on close or a write error. */
  drained(): Promise<void> {
    if (this.writeError || this.closing || this.pendingBytes() <= this.cfg.max / 4) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** The write error that stopped the recording, if any (nothing is written after it). */
  get failure(): unknown {
    return this.writeError;
  }

  /** Live tap: every event line (without "\n") as it is queued for writing. Returns an unsubscribe function. */
  onEvent(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  // every field by name: `{ ...counts, more }` made V8 build new hidden classes on every call (4–5 µs a
  // call against 0.04 µs; the recording worker asked once per event)
  stats(): RecorderStats {
    const c = this.counts;
    const pendingBytes = this.pendingBytes();
    return {
      bytesIn: c.bytesIn, bytesRecorded: c.bytesIn - c.backlogBytesDropped, bytesWritten: c.bytesWritten, events: c.events, binaryBytes: c.binaryBytes,
      backlogBytesDropped: c.backlogBytesDropped, pendingBytes, backpressure: pendingBytes > this.cfg.max / 2,
    };
  }

  /** Ends the current run and waits until everything queued is on disk. */
  async flush(): Promise<void> {
    this.flushPending(false);
    while (this.writing) await this.writing;
    if (this.writeError) throw this.writeError;
  }

  close(): Promise<RecordingResult> {
    return (this.closing ??= this.finish());
  }

  private async finish(): Promise<RecordingResult> {
    this.cfg.timers.clearInterval(this.timer);
    const endMs = this.cfg.clock.now();
    this.flushPending(true);
    this.settleDrain();
    this.listeners.clear();
    while (this.writing) await this.writing;
    let error = this.writeError;
    if (!error) await this.fh.datasync().catch((e: unknown) => void (error = e));
    await this.fh.close().catch((e: unknown) => void (error ??= e));
    if (error) throw error;
    const { path, counts } = this;
    return { path, bytes: counts.bytesWritten, durationMs: Math.max(0, endMs - this.cfg.startMs), sha256: this.hash.digest('hex'), events: counts.events };
  }

  /** Encoded bytes in memory, not yet written (stats().pendingBytes, without building the stats). */
  pendingBytes(): number {
    return this.queuedBytes + this.inflightBytes + (this.run?.size ?? 0);
  }

  /** Seconds since start, never going backwards. */
  private time(): number {
    return (this.lastT = Math.max(this.lastT, (this.cfg.clock.now() - this.cfg.startMs) / 1000));
  }

  /** Adds output to the open run (if it fits under the data cap; otherwise it is dropped). */
  private append(piece: Utf8Piece): void {
    const { bytes } = piece;
    const { exact, escaped, escapedBytes } = castForm(bytes, piece.valid); // encoded now, so the size is known
    if (this.run && this.run.binary !== exact) this.endRun(); // text and binary runs do not mix
    const growth = this.run ? this.run.growth(bytes.length, escapedBytes) : runSize(exact, bytes.length, escapedBytes);
    if (this.writeError || this.pendingBytes() + growth > this.cfg.dataCap) return this.drop(bytes.length);
    this.run ??= new EventRun('o', exact, this.time(), this.cfg.clock.now());
    this.run.add(bytes, escaped, escapedBytes);
    if (exact) this.counts.binaryBytes += bytes.length;
    if (this.run.size >= this.cfg.runLimit) this.endRun();
  }

  private endRun(): void {
    const run = this.run;
    this.run = null;
    for (const line of run?.lines() ?? []) this.push(line); // its size was counted in pendingBytes
  }

  /** One input piece: its own "i" event (or "b" + "i" pair), after the open output run. */
  private recordInput(piece: Utf8Piece): void {
    this.endRun();
    const { exact, escaped, escapedBytes } = castForm(piece.bytes, piece.valid);
    const run = new EventRun('i', exact, this.time(), this.cfg.clock.now());
    run.add(piece.bytes, escaped, escapedBytes);
    const lines = run.lines();
    const size = lines.reduce((n, l) => n + l.length, 0);
    if (this.writeError || this.pendingBytes() + size > this.cfg.dataCap) return this.drop(piece.bytes.length);
    if (exact) this.counts.binaryBytes += piece.bytes.length;
    for (const line of lines) this.push(line);
  }

  /** Ends the open run (keeps the order exact) and queues a non-output event. */
  private control(code: CastEventCode, data: string, limit = this.cfg.max): void {
    this.endRun();
    if (!this.push(Buffer.from(encodeEvent(this.time(), code, data) + '\n'), limit)) this.drop(Buffer.byteLength(data));
  }

  private drop(bytes: number): void {
    this.counts.backlogBytesDropped += bytes;
    this.unreportedDrops += bytes;
  }

  /** Queues one encoded line if pendingBytes stays within `limit`; starts a write when idle. */
  private push(line: Buffer, limit = Infinity): boolean {
    if (this.writeError || this.pendingBytes() + line.length > limit) return false;
    this.queue.push(line);
    this.queuedBytes += line.length;
    this.counts.events++;
    const text = this.listeners.size > 0 ? line.toString('utf8', 0, line.length - 1) : '';
    for (const listener of this.listeners) {
      try { listener(text); } catch { /* a broken watcher must not break the recording */ }
    }
    this.kick();
    return true;
  }

  /**
   * Timer tick, flush() and close(): ends the open run, reports dropped bytes. Only close() writes out a
   * character still incomplete at the end of a stream (a tick must not split one the next chunk completes).
   */
  private flushPending(final: boolean): void {
    if (this.closing && !final) return;
    if (final) {
      const output = this.outputPieces.end();
      if (output) this.append(output);
      const input = this.inputPieces.end();
      if (input) this.recordInput(input);
    }
    this.endRun();
    const n = this.unreportedDrops;
    const marker = `recording backlog: ${n} bytes not recorded`;
    if (n > 0 && this.push(Buffer.from(encodeEvent(this.time(), 'm', marker) + '\n'), this.cfg.max)) this.unreportedDrops = 0;
  }

  private kick(): void {
    if (this.writing || this.writeError || this.queue.length === 0) return; // nothing is written after a failure
    const buf = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue, this.queuedBytes);
    this.inflightBytes = this.queuedBytes;
    this.queue = [];
    this.queuedBytes = 0;
    const ok = () => void (this.counts.bytesWritten += buf.length);
    const failed = (e: unknown) => void (this.writeError = e ?? new Error('recording write failed'));
    this.hash.update(buf); // appendFile writes all of buf or fails, and a failure ends the recording
    this.writing = this.fh.appendFile(buf).then(ok, failed).finally(() => {
      this.inflightBytes = 0;
      this.writing = null;
      this.kick();
      this.settleDrain();
    });
  }

  private settleDrain(): void {
    if (this.drainWaiters.length === 0) return;
    if (!this.writeError && !this.closing && this.pendingBytes() > this.cfg.max / 4) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
