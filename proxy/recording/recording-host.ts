/**
 * The process's one recording worker (recording-worker.ts), started on first use and shared by every
 * terminal session's recorder: a thread per session would cost an isolate (megabytes) each.
 * - Messages are routed to the recorder that registered the id. The worker is ref'ed only while a
 *   recording is open, so it never keeps an idle process alive, and never lets one exit mid-recording.
 * - If the worker dies, every open recording is told (it fails, as after a write error) and the next
 *   recording starts a new worker.
 * - From TypeScript sources (tsx, vitest) the worker registers tsx's loader first; from built JavaScript
 *   it is started directly.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './worker-protocol.js';

type Listener = (m: FromWorker) => void;

function startWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./recording-worker.js', here));
  const tsxLoader = createRequire(here).resolve('tsx'); // .../tsx/dist/loader.mjs
  const api = new URL('esm/api/index.mjs', pathToFileURL(tsxLoader)).href;
  const entry = new URL('./recording-worker.ts', here).href;
  const boot = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(entry)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { execArgv: [] });
}

export class RecordingHost {
  private readonly listeners = new Map<number, Listener>();
  private nextId = 1;
  private dead: Error | null = null;

  constructor(private readonly worker: Worker) {
    worker.unref();
    worker.on('message', (m: FromWorker) => this.listeners.get(m.id)?.(m));
    const died = (err: Error) => {
      if (this.dead) return;
      this.dead = err;
      if (host === this) host = null;
      for (const [id, listener] of this.listeners) listener({ type: 'failed', id, message: `recording worker stopped: ${err.message}` });
      this.listeners.clear();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`exit code ${code}`)));
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** Registers a recording; messages for it go to `listener` until release(). */
  register(listener: Listener): number {
    const id = this.nextId++;
    this.listeners.set(id, listener);
    if (this.listeners.size === 1) this.worker.ref();
    if (this.dead) queueMicrotask(() => listener({ type: 'failed', id, message: `recording worker stopped: ${this.dead!.message}` }));
    return id;
  }

  release(id: number): void {
    if (this.listeners.delete(id) && this.listeners.size === 0) this.worker.unref();
  }

  /** Stops the worker (shutdown, tests): open recordings fail as if it had died. */
  async stop(): Promise<void> {
    await this.worker.terminate();
  }

  post(m: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (!this.dead) this.worker.postMessage(m, transfer);
  }
}

let host: RecordingHost | null = null;

/** The shared host, started on first use (and again after its worker died). */
export function recordingHost(): RecordingHost {
  return (host ??= new RecordingHost(startWorker()));
}
