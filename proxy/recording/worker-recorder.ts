/**
 * The recorder a terminal session's relay uses (issue 17): the relay's thread only copies each chunk into
 * a batch buffer and notes its arrival time; the asciicast encoding, the writes and the SHA-256 run in the
 * process's recording worker (recording-worker.ts, recorder.ts), which gets each batch as a transferred
 * ArrayBuffer. Same interface and guarantees as recorder.ts's Recorder, which it drives:
 * - complete: every byte given to output() (and input() when recordInput) reaches the recorder; nothing is
 *   dropped unless the recording has failed (a write error, or the worker died), which is counted;
 * - backpressure: `congested` while more than half of maxBufferedBytes of raw bytes are not yet handed to
 *   the recorder (which itself waits for its disk), `drained()` at a quarter: the relay pauses its source;
 * - a crash loses at most one flush interval (<= 1 s): the batch goes out on every timer tick (and whenever
 *   it is full), and the worker writes it at once;
 * - createRecorder resolves once the file exists with its header (exclusive create, as before), and
 *   close() resolves with the same RecordingResult (SHA-256 of the file as written).
 * Nothing here touches the bytes one by one, and no timer or promise is on the output/input path.
 */
import type { RecorderClock, RecorderOptions, RecorderStats, RecorderTimers, RecordingResult } from './recorder.js';
import { recordingHost, type RecordingHost } from './recording-host.js';
import { OP_INPUT, OP_MARKER, OP_OUTPUT, OP_RESIZE, type FromWorker, type WorkerRecorderOptions, type WorkerStats } from './worker-protocol.js';

const MIN_BATCH = 4 * 1024;
const MAX_BATCH = 256 * 1024;
const isDim = (v: number): boolean => Number.isInteger(v) && v > 0;

interface Cfg { clock: RecorderClock; timers: RecorderTimers; max: number; recordInput: boolean }

/** Starts the recording in the worker; resolves once its file and header are on disk. */
export const createWorkerRecorder = (options: RecorderOptions): Promise<WorkerRecorder> => WorkerRecorder.create(options);

export class WorkerRecorder {
  static async create(o: RecorderOptions): Promise<WorkerRecorder> {
    const interval = o.flushIntervalMs ?? 250;
    if (!(interval > 0 && interval <= 1000)) throw new RangeError('flushIntervalMs must be in (0, 1000]');
    const max = o.maxBufferedBytes ?? 1024 * 1024;
    if (!Number.isInteger(max) || max < 16 * 1024) throw new RangeError('maxBufferedBytes must be an integer >= 16384');
    const clock = o.clock ?? { now: () => Date.now() };
    const rec = new WorkerRecorder(o.path, recordingHost(), { clock, timers: o.timers ?? { setInterval, clearInterval }, max, recordInput: !!o.recordInput });
    const options: WorkerRecorderOptions = {
      path: o.path, width: o.width, height: o.height, title: o.title, flushIntervalMs: interval, maxBufferedBytes: max, recordInput: !!o.recordInput, startMs: clock.now(),
      ...(o.command !== undefined ? { command: o.command } : {}), ...(o.env !== undefined ? { env: o.env } : {}),
    };
    try {
      rec.host.post({ type: 'open', id: rec.id, options });
      await rec.opened;
    } catch (err) {
      rec.host.release(rec.id);
      throw err;
    }
    rec.timer = rec.cfg.timers.setInterval(() => rec.onTick(), interval);
    (rec.timer as { unref?: () => void } | null)?.unref?.();
    return rec;
  }

  private readonly id: number;
  private readonly opened: Promise<void>;
  private settleOpen: { resolve(): void; reject(e: Error): void } | null = null;
  private timer: unknown = null;
  private batch: Buffer | null = null;
  private used = 0;
  private capacity = MIN_BATCH;
  private ops: number[] = [];
  private texts: string[] = [];
  private dirty = false; // ops since the last tick went out: the worker may hold an open run
  private seq = 0;
  private readonly inflight = new Map<number, number>(); // seq -> raw bytes not yet acknowledged
  private unacked = 0;
  private readonly flushWaiters = new Map<number, { resolve(): void; reject(e: Error): void }>();
  private drainWaiters: (() => void)[] = [];
  private failure: Error | null = null;
  private closing: Promise<RecordingResult> | null = null;
  private settleClose: { resolve(r: RecordingResult): void; reject(e: Error): void } | null = null;
  private bytesIn = 0;
  private dropped = 0;
  private worker: WorkerStats = { bytesWritten: 0, events: 0, binaryBytes: 0, backlogBytesDropped: 0 };

  private constructor(readonly path: string, private readonly host: RecordingHost, private readonly cfg: Cfg) {
    this.id = host.register((m) => this.onMessage(m));
    this.opened = new Promise((resolve, reject) => (this.settleOpen = { resolve, reject }));
  }

  /** Terminal output from the device. */
  output(chunk: Uint8Array): void {
    this.data(OP_OUTPUT, chunk);
  }

  /** Client keystrokes (and stdin of exec sessions); ignored unless recordInput. */
  input(chunk: Uint8Array): void {
    if (this.cfg.recordInput) this.data(OP_INPUT, chunk);
  }

  /** Terminal size change ("r" event); invalid sizes are ignored. */
  resize(cols: number, rows: number): void {
    if (!this.closing && isDim(cols) && isDim(rows)) this.op(OP_RESIZE, cols, rows);
  }

  /** "m" event (warnings, revocation, ...). */
  marker(label: string): void {
    if (this.closing) return;
    this.texts.push(String(label));
    this.op(OP_MARKER, this.texts.length - 1, 0);
  }

  /** True while the recording is behind and can still catch up (see the file header). */
  get congested(): boolean {
    return !this.failure && !this.closing && this.pending() > this.cfg.max / 2;
  }

  /** Resolves once at most a quarter of maxBufferedBytes is waiting, or on close or failure. */
  drained(): Promise<void> {
    if (this.failure || this.closing || this.pending() <= this.cfg.max / 4) return Promise.resolve();
    const drained = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    this.sendWaiting();
    return drained;
  }

  stats(): RecorderStats {
    const w = this.worker;
    const backlogBytesDropped = w.backlogBytesDropped + this.dropped;
    const pendingBytes = this.pending();
    // every field by name (a spread plus more fields builds new hidden classes on every call: see recorder.ts)
    return {
      bytesIn: this.bytesIn, bytesRecorded: this.bytesIn - backlogBytesDropped, bytesWritten: w.bytesWritten, events: w.events, binaryBytes: w.binaryBytes,
      backlogBytesDropped, pendingBytes, backpressure: pendingBytes > this.cfg.max / 2,
    };
  }

  /** Ends the current run and waits until everything given so far is on disk. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closing) return;
    const seq = this.post({ tick: true, flush: true, closeMs: null });
    await new Promise<void>((resolve, reject) => this.flushWaiters.set(seq, { resolve, reject }));
  }

  close(): Promise<RecordingResult> {
    return (this.closing ??= this.finish());
  }

  private async finish(): Promise<RecordingResult> {
    this.cfg.timers.clearInterval(this.timer);
    const result = new Promise<RecordingResult>((resolve, reject) => (this.settleClose = { resolve, reject }));
    this.post({ tick: false, flush: false, closeMs: this.cfg.clock.now() });
    this.settleDrain();
    if (!this.host.alive) this.fail(this.failure ?? new Error('recording worker stopped'));
    try {
      return await result;
    } finally {
      this.host.release(this.id);
    }
  }

  private pending(): number {
    return this.unacked + this.used;
  }

  private data(code: number, chunk: Uint8Array): void {
    if (this.closing) return;
    const n = chunk.length;
    this.bytesIn += n;
    if (this.failure) return void (this.dropped += n);
    if (n === 0) return;
    if (!this.batch || this.used + n > this.batch.length) this.newBatch(n);
    this.batch!.set(chunk, this.used); // a copy: ssh2 may reuse its buffer
    this.used += n;
    this.op(code, n, 0);
  }

  private op(code: number, a: number, b: number): void {
    this.ops.push(code, this.cfg.clock.now(), a, b);
    this.dirty = true;
  }

  /** Sends the full batch (if any) and starts one that holds at least `need` bytes. */
  private newBatch(need: number): void {
    if (this.batch) {
      this.capacity = Math.min(MAX_BATCH, this.batch.length * 2); // a busy stream gets larger batches
      this.post({ tick: false, flush: false, closeMs: null });
    }
    this.batch = Buffer.allocUnsafeSlow(Math.max(need, this.capacity)); // its own ArrayBuffer, to transfer
  }

  private onTick(): void {
    if (!this.dirty || this.closing) return;
    if (this.batch && this.used < this.batch.length / 4) this.capacity = Math.max(MIN_BATCH, this.capacity / 2); // a quiet stream gets smaller ones
    this.post({ tick: true, flush: false, closeMs: null });
  }

  private post(p: { tick: boolean; flush: boolean; closeMs: number | null }): number {
    const seq = ++this.seq;
    const data = this.batch && this.used > 0 ? (this.batch.buffer as ArrayBuffer) : new ArrayBuffer(0); // allocUnsafeSlow: never shared
    this.host.post({ type: 'batch', id: this.id, seq, data, bytes: this.used, ops: this.ops, texts: this.texts, ...p }, data.byteLength > 0 ? [data] : []);
    this.inflight.set(seq, this.used);
    this.unacked += this.used;
    this.batch = null;
    this.used = 0;
    this.ops = [];
    this.texts = [];
    if (p.tick || p.flush || p.closeMs !== null) this.dirty = false;
    return seq;
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'opened') {
      this.settleOpen?.resolve();
      this.settleOpen = null;
    } else if (m.type === 'ack') {
      this.unacked -= this.inflight.get(m.seq) ?? 0;
      this.inflight.delete(m.seq);
      this.worker = m.stats;
      this.flushWaiters.get(m.seq)?.resolve();
      this.flushWaiters.delete(m.seq);
      this.settleDrain();
    } else if (m.type === 'closed') {
      this.worker = { bytesWritten: m.result.bytes, events: m.result.events, binaryBytes: this.worker.binaryBytes, backlogBytesDropped: this.worker.backlogBytesDropped };
      this.settleClose?.resolve(m.result);
    } else {
      const err = Object.assign(new Error(m.message), m.code ? { code: m.code } : {});
      this.fail(err);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    if (this.settleOpen) {
      this.host.release(this.id);
      this.settleOpen.reject(err);
      this.settleOpen = null;
    }
    for (const w of this.flushWaiters.values()) w.reject(this.failure);
    this.flushWaiters.clear();
    this.settleClose?.reject(this.failure);
    this.settleDrain();
  }

  /**
   * While someone waits for drained(): the batch being filled goes out as soon as what is already with the
   * worker no longer keeps pending() up (not earlier: many small batches would cost more messages).
   */
  private sendWaiting(): void {
    if (this.used > 0 && this.unacked <= this.cfg.max / 4) this.post({ tick: false, flush: false, closeMs: null });
  }

  private settleDrain(): void {
    if (this.drainWaiters.length === 0) return;
    this.sendWaiting();
    if (!this.failure && !this.closing && this.pending() > this.cfg.max / 4) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
