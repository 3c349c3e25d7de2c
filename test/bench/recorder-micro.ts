/**
 * Micro-benchmark of the session recorder as the relay drives it (issue 17): N MiB of output in
 * 32 KiB chunks (ssh2's channel packets), fed as fast as the recorder lets it (the relay's gate:
 * `congested` → wait for `drained()`), then close(). Reports CPU of the relay's thread (the main
 * thread: /proc/self/task/<pid>/stat) and of the whole process (all threads), both per MiB, and
 * MiB/s wall. Streams: base64 text lines, NUL bytes (valid UTF-8, escaped \u0000), random binary.
 * Variants: `inline` (recorder.ts on the relay's thread, as before issue 17), `worker` (worker-recorder.ts,
 * what the relay uses), `raw` (the other option of issue 17, measured for the choice: raw bytes appended
 * with a timing index and SHA-256 updated natively on the relay's thread, nothing encoded), `none` (the
 * harness alone: a fresh Buffer per chunk as ssh2 hands over, to subtract).
 *   node --import tsx test/bench/recorder-micro.ts [MiB] [text,zeros,random] [none,inline,worker,raw] [dir]
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, mkdtempSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRecorder } from '../../proxy/recording/recorder.js';
import { createWorkerRecorder } from '../../proxy/recording/worker-recorder.js';

interface Sink { output(chunk: Buffer): void; congested: boolean; drained(): Promise<void>; close(): Promise<{ path: string }> }

/** The raw-journal option: bytes and a [ms, length] index appended as they come, hashed natively. */
async function rawJournal(path: string): Promise<Sink> {
  const fh = await open(path, 'ax', 0o600);
  const hash = createHash('sha256');
  let batch: Buffer[] = [];
  let index: number[] = [];
  let queued = 0;
  let writing: Promise<void> | null = null;
  const waiters: (() => void)[] = [];
  const kick = () => {
    if (writing || batch.length === 0) return;
    const buf = Buffer.concat([...batch, Buffer.from(new Float64Array(index).buffer)]);
    batch = [];
    index = [];
    writing = fh.appendFile(buf).then(() => {
      queued -= buf.length;
      writing = null;
      if (queued < 2 * 1024 * 1024) for (const w of waiters.splice(0)) w();
      kick();
    });
  };
  return {
    output(chunk) {
      hash.update(chunk);
      batch.push(Buffer.from(chunk));
      index.push(Date.now(), chunk.length);
      queued += chunk.length + 16;
      kick();
    },
    get congested() { return queued > 4 * 1024 * 1024; },
    drained: () => new Promise((r) => waiters.push(r)),
    async close() {
      while (writing || batch.length) { kick(); await writing; }
      await fh.datasync();
      await fh.close();
      hash.digest('hex');
      return { path };
    },
  };
}

const CHUNK = 32 * 1024;
const TICK = 100 / 1e3; // USER_HZ = 100 on Linux

function mainThreadCpuS(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) * TICK / 10; // utime, stime in clock ticks
}
const processCpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function source(kind: string): Buffer[] {
  // a pool of distinct chunks (64 of them), cycled: content is realistic, generation is not measured
  const pool: Buffer[] = [];
  for (let i = 0; i < 64; i++) {
    if (kind === 'zeros') pool.push(Buffer.alloc(CHUNK));
    else if (kind === 'random') pool.push(randomBytes(CHUNK));
    else {
      const b64 = randomBytes(CHUNK).toString('base64').replace(/(.{76})/g, '$1\n');
      pool.push(Buffer.from(b64).subarray(i % 7, (i % 7) + CHUNK)); // chunk edges anywhere in a line
    }
  }
  return pool;
}

async function run(kind: string, variant: string, mib: number, dir: string): Promise<Record<string, number | string>> {
  const pool = source(kind);
  const path = join(dir, `${kind}-${variant}-${Date.now()}.cast`);
  const options = { path, width: 80, height: 24, title: 'bench', recordInput: true, maxBufferedBytes: 8 * 1024 * 1024 };
  const none: Sink = { output: () => undefined, congested: false, drained: async () => undefined, close: async () => ({ path }) };
  const rec: Sink = variant === 'none' ? none : variant === 'raw' ? await rawJournal(path) : variant === 'worker' ? await createWorkerRecorder(options) : await createRecorder(options);
  const total = mib * 1024 * 1024;
  const t0 = process.hrtime.bigint();
  const m0 = mainThreadCpuS();
  const p0 = processCpuS();
  for (let sent = 0, i = 0; sent < total; i++) {
    const chunk = Buffer.from(pool[i % pool.length]!); // ssh2 hands over a fresh Buffer per packet
    rec.output(chunk);
    sent += chunk.length;
    if (rec.congested) await rec.drained();
    else if (i % 64 === 0) await new Promise((r) => setImmediate(r)); // the relay yields to I/O between reads
  }
  const r = await rec.close();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const main = mainThreadCpuS() - m0;
  const proc = processCpuS() - p0;
  const size = variant === 'none' ? 0 : statSync(r.path).size;
  rmSync(path, { force: true });
  return { kind, variant, MiB: mib, 'MiB/s': +(mib / wall).toFixed(1), 'relay-thread ms/MiB': +((main * 1000) / mib).toFixed(2), 'process ms/MiB': +((proc * 1000) / mib).toFixed(2), 'file/output': +(size / total).toFixed(3) };
}

const mib = Number(process.argv[2] ?? 256);
const kinds = (process.argv[3] ?? 'text,zeros,random').split(',');
const variants = (process.argv[4] ?? 'none,inline,worker,raw').split(',');
const dir = process.argv[5] ?? mkdtempSync(join(tmpdir(), 'portcullis-recbench-'));
const rows = [];
for (const kind of kinds) for (const variant of variants) rows.push(await run(kind, variant, mib, dir));
console.table(rows);
