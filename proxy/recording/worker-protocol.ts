/**
 * Messages between the relay's thread (worker-recorder.ts) and the recording worker (recording-worker.ts).
 * A batch carries the raw bytes of its output/input ops back to back in one transferred ArrayBuffer (never
 * ssh2's own buffers: they are copied into it on arrival), and a flat op table of OP_FIELDS numbers each:
 *   OP_OUTPUT / OP_INPUT: [code, ms, length, 0]  (the next `length` bytes of `data`)
 *   OP_RESIZE:            [code, ms, cols, rows]
 *   OP_MARKER:            [code, ms, index into `texts`, 0]
 * `ms` is the relay thread's clock when the op happened, so event times are those of arrival, not of encoding.
 * Batches of one recording are applied in `seq` order; each is acknowledged once its bytes are handed to the
 * recorder (and, with `flush`, on disk), which is what the relay's backpressure counts.
 */
import type { RecorderStats, RecordingResult } from './recorder.js';

export const OP_OUTPUT = 0;
export const OP_INPUT = 1;
export const OP_RESIZE = 2;
export const OP_MARKER = 3;
export const OP_FIELDS = 4;

/** What the worker needs to create the recorder (clock and timers are the worker's own). */
export interface WorkerRecorderOptions {
  path: string;
  width: number;
  height: number;
  title: string;
  command?: string;
  env?: Record<string, string>;
  flushIntervalMs: number;
  maxBufferedBytes: number;
  recordInput: boolean;
  startMs: number;
}

export interface BatchMessage {
  type: 'batch';
  id: number;
  seq: number;
  data: ArrayBuffer;
  /** raw bytes of output/input ops in `data` */
  bytes: number;
  ops: number[];
  texts: string[];
  /** the flush tick: end the open run so it is written now */
  tick: boolean;
  /** acknowledge only once everything is on disk */
  flush: boolean;
  /** close after the ops, at this clock time */
  closeMs: number | null;
}

export type ToWorker = { type: 'open'; id: number; options: WorkerRecorderOptions } | BatchMessage;

export type WorkerStats = Omit<RecorderStats, 'bytesIn' | 'bytesRecorded' | 'pendingBytes' | 'backpressure'>;

export type FromWorker =
  | { type: 'opened'; id: number }
  | { type: 'ack'; id: number; seq: number; stats: WorkerStats }
  | { type: 'closed'; id: number; result: RecordingResult }
  /** the recording stopped (open, write or close failed): nothing more is written */
  | { type: 'failed'; id: number; message: string; code?: string };
