/**
 * The relay's recorder (issue 17): the relay's thread copies bytes into batches, the recording worker
 * encodes, writes and hashes them (worker-recorder.ts, recording-worker.ts). The file must be the one the
 * in-thread recorder writes for the same arrivals — asciicast v2 that players, extract.ts, the live watch,
 * the indexer and the evidence verifier already read — complete (text, binary, characters split across
 * chunks, input, resizes, markers), hashed as written, with backpressure instead of drops, and a crash
 * must leave a readable file that lacks at most the last second.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { castForm, parseCast } from '../../proxy/recording/asciicast.js';
import { extractStreams, extractStreamsFromFile } from '../../proxy/recording/extract.js';
import { createRecorder, type RecorderOptions } from '../../proxy/recording/recorder.js';
import { recordingHost } from '../../proxy/recording/recording-host.js';
import { createWorkerRecorder, type WorkerRecorder } from '../../proxy/recording/worker-recorder.js';

const MiB = 1024 * 1024;
const T0 = 1_700_000_000_000;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
let seq = 0;
beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'portcullis-wrec-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Fake clock and flush timer shared by a worker recorder and an in-thread one fed the same way. */
function fakeTime() {
  const clock = { ms: T0, now: () => clock.ms };
  const ticks: (() => void)[] = [];
  const timers = { setInterval: (fn: () => void) => (ticks.push(fn), ticks.length), clearInterval: () => undefined };
  return { clock, timers, tick: () => ((clock.ms += 250), ticks.forEach((fn) => fn())), advance: (ms: number) => void (clock.ms += ms) };
}
const options = (extra: Partial<RecorderOptions> = {}): RecorderOptions => ({ path: join(dir, `w-${++seq}.cast`), width: 80, height: 24, title: 'ventilator-3', recordInput: true, ...extra });

/** Splits `buf` at odd boundaries (1 byte up to ~96 KiB): characters and runs get cut everywhere. */
function oddChunks(buf: Buffer): Buffer[] {
  const sizes = [1, 2, 3, 5, 4093, 32_771, 65_537, 98_303];
  const chunks: Buffer[] = [];
  for (let off = 0, i = 0; off < buf.length; i++) {
    const n = sizes[(i * 5 + 3) % sizes.length]!;
    chunks.push(Buffer.from(buf.subarray(off, off + n)));
    off += n;
  }
  return chunks;
}

/** Output of every kind: text, a character split across chunks, NULs, SOH-laced text, random binary. */
function mixedOutput(): Buffer {
  return Buffer.concat([
    Buffer.from('login ok\r\n température 37°C 😀 '), Buffer.from([0xe2, 0x82]), Buffer.from([0xac]), Buffer.from('\r\n'),
    Buffer.alloc(3000), Buffer.from([...'Patient: MUELLER'].map((c) => `\x01${c}`).join('')), randomBytes(300_000), Buffer.from('END\r\n'),
  ]);
}

describe('worker recorder', () => {
  it('writes exactly the file the in-thread recorder writes for the same arrivals, and hashes it as written', async () => {
    const sent = mixedOutput();
    const typed = Buffer.concat([Buffer.from('reboot --force'), Buffer.from([0xff, 0x00, 0xc3]), Buffer.from('é\r')]);
    type Rec = { output(b: Buffer): void; input(b: Buffer): void; resize(c: number, r: number): void; marker(m: string): void; congested: boolean; drained(): Promise<void> };
    const drive = async (rec: Rec, t: ReturnType<typeof fakeTime>) => {
      for (const [i, c] of oddChunks(sent).entries()) {
        rec.output(c);
        if (rec.congested) await rec.drained(); // as the relay does: the in-thread recorder must not drop either
        if (i % 3 === 0) t.advance(40);
        if (i % 5 === 4) t.tick();
        if (i === 4) rec.input(typed.subarray(0, 5));
        if (i === 6) (rec.resize(120, 40), rec.input(typed.subarray(5)));
        if (i === 7) rec.marker('warning: 5 minutes left');
      }
    };
    const tw = fakeTime();
    const w = await createWorkerRecorder(options({ ...tw, maxBufferedBytes: 2 * MiB }));
    await drive(w, tw);
    const wr = await w.close();
    const ti = fakeTime();
    const inline = await createRecorder(options({ ...ti, maxBufferedBytes: 2 * MiB }));
    await drive(inline, ti);
    await inline.close();

    const file = readFileSync(wr.path);
    expect(file.equals(readFileSync(inline.path))).toBe(true);
    expect(wr.sha256).toBe(sha256(file)); // the hash the audit log and x-recording-sha256 carry
    expect(wr.bytes).toBe(file.length);
    const streams = extractStreams(file);
    expect(streams.output.equals(sent)).toBe(true);
    expect(streams.input.equals(typed)).toBe(true);
    const { events } = parseCast(file.toString('utf8'));
    expect(events.some((e) => e.code === 'b' && e.data.startsWith('o:'))).toBe(true); // random bytes kept exactly
    expect(events.some((e) => e.code === 'b' && e.data.startsWith('i:'))).toBe(true);
    expect(events.filter((e) => e.code === 'r').map((e) => e.data)).toEqual(['120x40']);
    expect(events.filter((e) => e.code === 'm').map((e) => e.data)).toEqual(['warning: 5 minutes left']);
    const o = events.filter((e) => e.code === 'o').map((e) => e.data).join('');
    expect(o).toContain('température 37°C 😀 €'); // the euro sign split over three chunks is whole
  });

  it('ignores input unless recordInput, and its stats count what it was given', async () => {
    const w = await createWorkerRecorder(options({ recordInput: false }));
    w.output(Buffer.from('$ '));
    w.input(Buffer.from('secret-typing'));
    w.resize(0, 10); // invalid: ignored
    await w.flush();
    expect(w.stats()).toMatchObject({ bytesIn: 2, bytesRecorded: 2, backlogBytesDropped: 0, pendingBytes: 0 }); // as recorder.ts counts
    const r = await w.close();
    const streams = await extractStreamsFromFile(r.path);
    expect(streams.output.toString()).toBe('$ ');
    expect(streams.input.length).toBe(0);
    expect(parseCast(readFileSync(r.path, 'utf8')).events.some((e) => e.code === 'r')).toBe(false);
  });

  it('holds a fast producer back instead of dropping: congested while behind, nothing lost (8 MiB, 1 MiB buffer)', async () => {
    const w = await createWorkerRecorder(options({ maxBufferedBytes: 1024 * 1024 }));
    const chunk = randomBytes(32 * 1024);
    const hash = createHash('sha256');
    let waited = 0;
    for (let i = 0; i < 256; i++) {
      w.output(chunk);
      hash.update(chunk);
      expect(w.stats().pendingBytes).toBeLessThanOrEqual(512 * 1024 + chunk.length); // the gate bounds memory
      if (w.congested) (waited++, await w.drained());
    }
    const r = await w.close();
    expect(waited).toBeGreaterThan(0);
    expect(w.stats()).toMatchObject({ bytesIn: 8 * MiB, backlogBytesDropped: 0 });
    expect(sha256((await extractStreamsFromFile(r.path)).output)).toBe(hash.digest('hex'));
  }, 60_000);

  it('creates the file exclusively: an existing recording is never overwritten', async () => {
    const path = join(dir, 'existing.cast');
    writeFileSync(path, 'evidence');
    await expect(createWorkerRecorder(options({ path }))).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(path, 'utf8')).toBe('evidence');
    await expect(createWorkerRecorder(options({ flushIntervalMs: 5000 }))).rejects.toThrow(RangeError);
  });

  it('a crash mid-session leaves a readable recording that lacks at most the last second', async () => {
    // a child process records with the real timers (250 ms ticks) and is SIGKILLed mid-stream
    const path = join(dir, 'crash.cast');
    const script = join(dir, 'crash-child.mts'); // an ES module wherever the temporary directory is
    writeFileSync(script, `
      import { createWorkerRecorder } from ${JSON.stringify(new URL('../../proxy/recording/worker-recorder.ts', import.meta.url).pathname)};
      const rec = await createWorkerRecorder({ path: ${JSON.stringify(path)}, width: 80, height: 24, title: 'crash', recordInput: true });
      let n = 0;
      setInterval(() => {
        const line = Buffer.from('line ' + String(++n).padStart(6, '0') + ' at ' + Date.now() + ' ' + 'x'.repeat(200) + '\\r\\n');
        rec.output(line);
        if (n % 5 === 0) rec.output(Buffer.from([0xff, 0xfe, n & 0xff])); // binary as well
        process.stdout.write(n + '\\n');
      }, 5);
    `);
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let last = 0;
    child.stdout.on('data', (d: Buffer) => (last = Number(d.toString().trim().split('\n').pop())));
    const exited = new Promise((r) => child.once('close', r));
    await Promise.race([
      new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (last >= 800) (clearInterval(poll), resolve()); // about 4 s of output: batches grow to hold seconds
        }, 20);
      }),
      exited.then(() => expect.fail('the recording child exited early')),
    ]);
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await exited;
    const { output } = await extractStreamsFromFile(path, { allowTruncatedTail: true });
    const text = output.toString('latin1');
    const lines = [...text.matchAll(/line (\d{6}) at (\d+) /g)].map((m) => ({ n: Number(m[1]), at: Number(m[2]) }));
    expect(lines.length).toBeGreaterThan(0);
    lines.forEach((l, i) => expect(l.n).toBe(i + 1)); // in order, none missing
    expect(killedAt - lines[lines.length - 1]!.at).toBeLessThanOrEqual(1000); // at most the last second is lost
  }, 60_000);

  it('if the worker dies, open recordings fail loudly and never hold the relay back; the next one starts a new worker', async () => {
    const w: WorkerRecorder = await createWorkerRecorder(options({ maxBufferedBytes: 64 * 1024 }));
    w.output(Buffer.from('before'));
    await w.flush();
    await recordingHost().stop();
    w.output(Buffer.alloc(100_000, 0x41));
    expect(w.congested).toBe(false); // nothing to wait for: the relay goes on
    await w.drained();
    await expect(w.close()).rejects.toThrow(/recording worker stopped/);
    expect(w.stats().backlogBytesDropped).toBe(100_000); // counted, not silently lost
    const next = await createWorkerRecorder(options());
    next.output(Buffer.from('after'));
    const r = await next.close();
    expect((await extractStreamsFromFile(r.path)).output.toString()).toBe('after');
  });
});

const hasAsciinema = spawnSync('asciinema', ['--version']).status === 0;
describe.skipIf(!hasAsciinema)('worker recorder and asciinema', () => {
  it('asciinema cat plays the file', async () => {
    const w = await createWorkerRecorder(options());
    w.output(Buffer.from('Welcome to the ventilator console\r\n'));
    w.output(randomBytes(10_000));
    w.output(Buffer.from('température 37°C\r\n'));
    const r = await w.close();
    const printed = spawnSync('script', ['-qc', `asciinema cat ${r.path}`, '/dev/null'], { encoding: 'utf8', timeout: 20_000 }).stdout;
    expect(printed).toContain('Welcome to the ventilator console');
    expect(printed).toContain('température 37°C');
  });
});

describe('castForm', () => {
  const json = (b: Buffer) => JSON.stringify(b.toString('utf8')).slice(1, -1);
  it('keeps valid UTF-8 as JSON-escaped text, sparse NULs included', () => {
    for (const b of [Buffer.alloc(0), Buffer.alloc(15), Buffer.from('x\0\0"\\\n😀é'), Buffer.from('\\u0000 is not a NUL'), Buffer.concat([Buffer.from('a'.repeat(60)), Buffer.alloc(3)]),
      Buffer.concat([Buffer.from('a'.repeat(300)), Buffer.alloc(70)])]) {
      expect(castForm(b, true), `${b.length} bytes`).toEqual({ exact: false, escaped: json(b), escapedBytes: Buffer.byteLength(json(b)) });
    }
  });

  it('keeps pieces mostly of NUL bytes exactly, with the NULs left out of the display form', () => {
    expect(castForm(Buffer.alloc(200_000), true)).toEqual({ exact: true, escaped: '', escapedBytes: 0 });
    expect(castForm(Buffer.alloc(16), true)).toEqual({ exact: true, escaped: '', escapedBytes: 0 });
    expect(castForm(Buffer.concat([Buffer.alloc(100), Buffer.from('a\n')]), true)).toEqual({ exact: true, escaped: 'a\\n', escapedBytes: 3 });
    expect(castForm(Buffer.concat([Buffer.from('é'.repeat(40)), Buffer.alloc(40)]), true)).toMatchObject({ exact: true, escaped: 'é'.repeat(40) });
  });

  it('keeps bytes that are not valid UTF-8 exactly, decoded as a terminal shows them, without NULs', () => {
    // their display form comes as UTF-8 bytes (display-form.ts)
    const form = (b: Buffer) => ({ ...castForm(b, false), escaped: castForm(b, false).escaped.toString() });
    expect(form(Buffer.from([0xff, 0x41]))).toEqual({ exact: true, escaped: '\ufffdA', escapedBytes: 4 });
    // a NUL between a lead and a continuation byte: two replacement characters, not the "é" the bytes
    // would make without it
    expect(form(Buffer.from([0xc3, 0, 0xa9]))).toMatchObject({ exact: true, escaped: '\ufffd\ufffd' });
    expect(form(Buffer.from([1, 0xff]))).toMatchObject({ exact: true, escaped: '\\u0001\ufffd' });
    expect(form(Buffer.concat([Buffer.alloc(100), Buffer.from([0xfe])]))).toEqual({ exact: true, escaped: '\ufffd', escapedBytes: 3 });
  });
});
