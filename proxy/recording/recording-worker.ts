/**
 * The recording worker (one thread per proxy process, recording-host.ts starts it): runs recorder.ts — the
 * asciicast v2 encoding, the writes and the incremental SHA-256 — for every terminal session of the
 * process, so none of that per-byte work runs on the relay's thread.
 * - Each recording's batches are applied in order, one after another (a promise chain per recording);
 *   recordings do not wait for each other's disk writes.
 * - The recorder never drops here: before each slice of bytes the worker waits while the recorder is
 *   congested, and acknowledges a batch only after it is handed over. The relay thread counts
 *   unacknowledged bytes for its backpressure, so a slow disk slows the session, as before.
 * - The recorder's clock is set to each op's arrival time, and its flush timer is driven by the batches'
 *   `tick` flag: the file is the one the in-thread recorder would write for the same arrivals.
 */
import { parentPort } from 'node:worker_threads';
import { createRecorder, type Recorder } from './recorder.js';
import { OP_FIELDS, OP_INPUT, OP_MARKER, OP_OUTPUT, OP_RESIZE, type BatchMessage, type FromWorker, type ToWorker, type WorkerRecorderOptions } from './worker-protocol.js';

/**
 * Bytes handed to the recorder at once. The recorder drops what does not fit under its data cap (7/8 of
 * maxBufferedBytes at least); a slice encodes to at most ~7.4x its size and is given only while at most a
 * quarter is pending, so max/12 always fits. Ops from ssh2 (<= 32 KiB) are never cut with the relay's 8 MiB.
 */
const sliceFor = (max: number): number => Math.floor(max / 12);

interface Open {
  rec: Recorder;
  max: number;
  clock: { ms: number; now(): number };
  tick: () => void;
  chain: Promise<void>;
  failed: boolean;
}

const port = parentPort!;
const recordings = new Map<number, Open>();
const starting = new Map<number, Promise<Open | null>>();
const send = (m: FromWorker) => port.postMessage(m);

function fail(id: number, err: unknown): void {
  const e = err as NodeJS.ErrnoException;
  send({ type: 'failed', id, message: e?.message ?? String(err), ...(e?.code ? { code: e.code } : {}) });
}

async function openRecording(id: number, o: WorkerRecorderOptions): Promise<Open | null> {
  const clock = { ms: o.startMs, now: () => clock.ms };
  let tick: () => void = () => undefined;
  const timers = { setInterval: (fn: () => void) => ((tick = fn), 1), clearInterval: () => undefined };
  try {
    const { startMs: _s, ...options } = o;
    const rec = await createRecorder({ ...options, clock, timers });
    const open: Open = { rec, max: o.maxBufferedBytes, clock, tick: () => tick(), chain: Promise.resolve(), failed: false };
    recordings.set(id, open);
    send({ type: 'opened', id });
    return open;
  } catch (err) {
    fail(id, err);
    return null;
  } finally {
    starting.delete(id);
  }
}

async function apply(id: number, o: Open, m: BatchMessage): Promise<void> {
  const data = Buffer.from(m.data, 0, m.bytes);
  const { rec, clock } = o;
  const slice = sliceFor(o.max);
  let off = 0;
  for (let i = 0; i < m.ops.length; i += OP_FIELDS) {
    const code = m.ops[i]!;
    const ms = m.ops[i + 1]!;
    const a = m.ops[i + 2]!;
    if (code === OP_OUTPUT || code === OP_INPUT) {
      for (let from = off, end = off + a; from < end; from += slice) {
        if (rec.pendingBytes() > o.max / 4) await rec.drained();
        clock.ms = ms;
        const part = data.subarray(from, Math.min(end, from + slice));
        if (code === OP_OUTPUT) rec.output(part);
        else rec.input(part);
      }
      off += a;
    } else {
      clock.ms = ms;
      if (code === OP_RESIZE) rec.resize(a, m.ops[i + 3]!);
      else if (code === OP_MARKER) rec.marker(m.texts[a] ?? '');
    }
  }
  if (m.tick) o.tick();
  if (m.flush) await rec.flush().catch(() => undefined); // a failure is reported below
  if (rec.failure && !o.failed) {
    o.failed = true;
    fail(id, rec.failure);
  }
  if (m.closeMs !== null) {
    clock.ms = m.closeMs;
    recordings.delete(id);
    try {
      send({ type: 'closed', id, result: await rec.close() });
    } catch (err) {
      fail(id, err);
    }
    return;
  }
  const { bytesWritten, events, binaryBytes, backlogBytesDropped } = rec.stats();
  send({ type: 'ack', id, seq: m.seq, stats: { bytesWritten, events, binaryBytes, backlogBytesDropped } });
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'open') {
    starting.set(m.id, openRecording(m.id, m.options));
    return;
  }
  const known = recordings.get(m.id);
  const target = known ? Promise.resolve(known) : starting.get(m.id) ?? Promise.resolve(null);
  void target.then((o) => {
    if (!o) return; // its open failed (reported) or it is closed
    o.chain = o.chain.then(() => apply(m.id, o, m)).catch((err: unknown) => fail(m.id, err));
  });
});
