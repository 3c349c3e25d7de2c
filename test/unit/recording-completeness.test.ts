/**
 * Recording completeness (SPEC §8.2, issue 11 finding 6): nothing the device sends is replaced by a
 * placeholder. Text stays verbatim, bytes that are not valid UTF-8 come back byte for byte (extract.ts),
 * characters split across chunks survive, keystrokes are recorded, and asciinema still plays the file.
 * RECORDING_TEST_MIB sets the size of the random-binary run (default 4).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCast, type CastEvent } from '../../proxy/recording/asciicast.js';
import { extractStreams, extractStreamsFromFile } from '../../proxy/recording/extract.js';
import { createRecorder, type Recorder, type RecorderOptions } from '../../proxy/recording/recorder.js';
import { loadConfig } from '../../server/config.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
let seq = 0;
beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'portcullis-complete-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A recorder with a fake clock and a fake interval timer (`tick()` advances 250 ms and runs the flush). */
async function setup(extra: Partial<RecorderOptions> = {}) {
  const clock = { ms: 1_700_000_000_000, now: () => clock.ms };
  let flush: (() => void) | null = null;
  const timers = { setInterval: (fn: () => void) => ((flush = fn), 1), clearInterval: () => void (flush = null) };
  const path = join(dir, `s-${++seq}.cast`);
  const rec = await createRecorder({ path, width: 80, height: 24, title: 'ventilator-3', clock, timers, ...extra });
  return { rec, path, tick: () => ((clock.ms += 250), flush?.()), events: () => parseCast(readFileSync(path, 'utf8')).events };
}
/** What a player shows: the "o" events' data. */
const shown = (events: CastEvent[]) => events.filter((e) => e.code === 'o').map((e) => e.data).join('');
/** Feeds `rec` like the relay does: waits while the recording is congested, so nothing is dropped. */
async function feed(rec: Recorder, chunks: Buffer[], tick: () => void): Promise<void> {
  for (const [i, c] of chunks.entries()) {
    rec.output(c);
    if (i % 7 === 6) tick();
    if (rec.congested) await rec.drained();
  }
}
/** Splits `buf` at random odd-sized boundaries (1 byte up to ~96 KiB). */
function oddChunks(buf: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let off = 0; off < buf.length;) {
    const n = [1, 2, 3, 5, 4093, 32_771, 65_537, 98_303][Math.floor(Math.random() * 8)];
    chunks.push(Buffer.from(buf.subarray(off, off + n))); // a copy, like a fresh socket chunk
    off += n;
  }
  return chunks;
}

const PATIENT = 'Patient: MUELLER, Anna  DOB 1961-04-17  MRN 00482913\r\nDx: J96.0 acute resp. failure; SpO2 88% on 4 l O2\r\n';
const withSoh = (s: string) => Buffer.from([...s].map((ch) => `\x01${ch}`).join(''));

describe('recording completeness', () => {
  it('keeps text with a C0 control between every character verbatim (no placeholder)', async () => {
    const s = await setup();
    const sent = Buffer.concat([Buffer.from('$ cat record.txt\r\n'), withSoh(PATIENT.repeat(3)), Buffer.from('$ ')]);
    for (const c of oddChunks(sent)) s.rec.output(c);
    await s.rec.close();
    const events = s.events();
    expect(events.every((e) => e.code === 'o')).toBe(true); // valid UTF-8 stays text, nothing in "b" events
    expect(shown(events)).toBe(sent.toString('utf8'));
    expect(shown(events).replaceAll('\x01', '')).toContain(PATIENT);
    expect(extractStreams(readFileSync(s.path)).output.equals(sent)).toBe(true);
    expect(s.rec.stats()).toMatchObject({ binaryBytes: 0, backlogBytesDropped: 0, bytesRecorded: sent.length });
  });

  it(`gets ${Number(process.env.RECORDING_TEST_MIB ?? 4)} MiB of random binary with text around it back byte for byte`, async () => {
    const s = await setup({ maxBufferedBytes: 2 * MiB });
    const sent = Buffer.concat([Buffer.from('before 37°C\r\n'), randomBytes(Number(process.env.RECORDING_TEST_MIB ?? 4) * MiB), Buffer.from('after €\r\n$ ')]);
    await feed(s.rec, oddChunks(sent), s.tick);
    const result = await s.rec.close();
    const file = readFileSync(s.path);
    expect(result.sha256).toBe(sha256(file)); // the recording's hash covers the binary: it is in the one file
    expect(s.rec.stats().backlogBytesDropped).toBe(0);
    expect(s.rec.stats().binaryBytes).toBeGreaterThan(sent.length - 64 * 1024);
    const { output, input } = await extractStreamsFromFile(s.path);
    expect(output.length).toBe(sent.length);
    expect(sha256(output)).toBe(sha256(sent));
    expect(input.length).toBe(0);
    expect(extractStreams(file).output.equals(sent)).toBe(true);
    const events = s.events();
    expect(shown(events)).toMatch(/^before 37°C\r\n[^]*after €\r\n\$ $/); // the display form: what a terminal shows
    for (const [i, e] of events.entries()) if (e.code === 'b') expect([events[i + 1].code, events[i + 1].time]).toEqual(['o', e.time]);
  }, 60_000);

  it('keeps a download of NUL bytes exactly at 4/3 of its size, not 6x, and shows the text around it unchanged', async () => {
    const s = await setup({ maxBufferedBytes: 2 * MiB, recordInput: true });
    const zeros = Buffer.alloc(4 * MiB);
    const sent = Buffer.concat([Buffer.from('$ head -c 4M /dev/zero\r\n'), zeros, Buffer.from('done\r\n'), Buffer.from([0, 0x41, 0]), Buffer.from('$ ')]);
    await feed(s.rec, oddChunks(sent), s.tick);
    s.rec.input(Buffer.alloc(100_000)); // piped in: head -c N /dev/zero | ssh ...
    s.rec.input(Buffer.from([0])); // one Ctrl-@ keystroke stays an "i" event
    const result = await s.rec.close();
    expect(s.rec.stats()).toMatchObject({ backlogBytesDropped: 0, bytesRecorded: sent.length + 100_001 });
    expect(s.rec.stats().binaryBytes).toBeGreaterThan(zeros.length + 100_000 - 64 * 1024);
    expect(result.bytes).toBeLessThan(1.4 * (zeros.length + 100_000)); // as "\u0000" text it was 6x
    const { output, input } = await extractStreamsFromFile(s.path);
    expect(output.equals(sent)).toBe(true);
    expect(input.equals(Buffer.concat([Buffer.alloc(100_000), Buffer.from([0])]))).toBe(true);
    const events = s.events();
    // what a player shows: the same as before, less the NULs a terminal ignores
    expect(shown(events).replaceAll('\0', '')).toBe(sent.toString('utf8').replaceAll('\0', ''));
    expect(events.at(-1)).toMatchObject({ code: 'i', data: '\0' });
    for (const [i, e] of events.entries()) if (e.code === 'b') expect([events[i + 1].code, events[i + 1].time]).toEqual([e.data[0], e.time]);
    const printed = execFileSync('script', ['-qec', `asciinema cat ${s.path}`, '/dev/null'], { encoding: 'utf8', timeout: 20_000 });
    expect(printed).toContain('done');
  }, 60_000);

  it('joins UTF-8 characters split at any byte, across timer ticks and markers', async () => {
    const text = 'é € 😀 中文 ∑ ok\r\n';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const s = await setup();
      s.rec.output(bytes.subarray(0, cut));
      s.tick();
      if (cut % 2) s.rec.marker('halfway');
      s.rec.output(bytes.subarray(cut));
      await s.rec.close();
      const events = s.events();
      expect(events.some((e) => e.code === 'b'), `cut at ${cut}`).toBe(false);
      expect(shown(events), `cut at ${cut}`).toBe(text);
    }
    const s = await setup();
    for (const b of bytes) s.rec.output(Buffer.from([b])); // byte by byte
    await s.rec.close();
    expect(shown(s.events())).toBe(text);
  });

  it('keeps invalid, overlong, surrogate and truncated sequences exactly; a real U+FFFD stays text', async () => {
    const s = await setup();
    const parts = [
      Buffer.from('real \ufffd replacement character\r\n'),
      Buffer.from([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72, 0x0d, 0x0a]), // "Müller" in Latin-1
      Buffer.from([0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80, 0x80, 0xbf]), // overlong, surrogate, 5-byte, stray
      Buffer.from('text again\r\n'),
      Buffer.from([0xe2, 0x82]), // an incomplete character left at the end of the session
    ];
    for (const p of parts) s.rec.output(p);
    await s.rec.close();
    const events = s.events();
    const sent = Buffer.concat(parts);
    expect(extractStreams(readFileSync(s.path)).output.equals(sent)).toBe(true);
    expect(events[0]).toMatchObject({ code: 'o', data: 'real \ufffd replacement character\r\n' });
    expect(shown(events)).toContain('M\ufffdller\r\n'); // shown the way a terminal shows it
    expect(shown(events)).toContain('text again\r\n');
    expect(s.rec.stats().binaryBytes).toBe(parts[1].length + parts[2].length + parts[4].length);
  });

  it('records keystrokes and piped input, binary included, in order with the output', async () => {
    const s = await setup({ recordInput: true });
    const upload = randomBytes(100_000);
    s.rec.output(Buffer.from('$ '));
    s.rec.input(Buffer.from('l'));
    s.rec.input(Buffer.from('s\r'));
    s.rec.output(Buffer.from('ls\r\nfirmware.bin\r\n$ '));
    for (let off = 0; off < upload.length; off += 7777) s.rec.input(upload.subarray(off, off + 7777));
    s.rec.input(Buffer.from('€').subarray(0, 1)); // split keystroke character
    s.rec.input(Buffer.from('€').subarray(1));
    await s.rec.close();
    const events = s.events();
    expect(events.slice(0, 4).map((e) => [e.code, e.data])).toEqual([['o', '$ '], ['i', 'l'], ['i', 's\r'], ['o', 'ls\r\nfirmware.bin\r\n$ ']]);
    const { input, output } = extractStreams(readFileSync(s.path));
    expect(input.equals(Buffer.concat([Buffer.from('ls\r'), upload, Buffer.from('€')]))).toBe(true);
    expect(output.toString()).toBe('$ ls\r\nfirmware.bin\r\n$ ');
    expect(events.at(-1)).toMatchObject({ code: 'i', data: '€' });
  });

  it('records input by default (RECORD_INPUT unset)', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://portcullis@127.0.0.1/x' }).recordInput).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'postgres://portcullis@127.0.0.1/x', RECORD_INPUT: 'false' }).recordInput).toBe(false);
  });

  it('rejects a "b" event without its display event, or with bad data', () => {
    const head = '{"version": 2, "width": 80, "height": 24}';
    expect(() => parseCast(`${head}\n[1, "b", "o:/w=="]\n[1, "m", "x"]`)).toThrow(/line 3\).*must be followed by its "o" display event/);
    expect(() => parseCast(`${head}\n[1, "b", "o:/w=="]\n[2, "o", "x"]`)).toThrow(/same time/);
    expect(() => parseCast(`${head}\n[1, "b", "o:/w=="]`)).toThrow(/has no display event/);
    expect(parseCast(`${head}\n[1, "b", "o:/w=="]`, { allowTruncatedTail: true }).events).toHaveLength(1);
    for (const bad of ['x:/w==', 'o:/w=', 'o:/w=a', 'o:*w==', 'o/w==']) expect(() => parseCast(`${head}\n[1, "b", "${bad}"]\n[1, "o", "?"]`), bad).toThrow(/binary data/);
    expect(extractStreams(`${head}\n[1, "o", "a"]\n[1, "b", "i:/w=="]\n[1, "i", "\ufffd"]\n[2, "o", "b"]`)).toMatchObject({ output: Buffer.from('ab'), input: Buffer.from([0xff]) });
  });

  it('is played by asciinema cat (Debian 2.2) with binary output in it', async () => {
    const s = await setup({ recordInput: true });
    s.rec.output(Buffer.from('Welcome to the ventilator console\r\n'));
    s.rec.output(randomBytes(20_000));
    s.rec.input(Buffer.from([0xff, 0x41]));
    s.rec.output(withSoh('température 37°C\r\n'));
    s.rec.marker('revoked');
    await s.rec.close();
    // -e: script passes asciinema's exit status on (without it a crash of asciinema still exits 0)
    const printed = execFileSync('script', ['-qec', `asciinema cat ${s.path}`, '/dev/null'], { encoding: 'utf8', timeout: 20_000 });
    expect(printed).not.toMatch(/Traceback|printing failed/);
    expect(printed).toContain('Welcome to the ventilator console');
    expect(printed.replaceAll('\x01', '')).toContain('température 37°C');
  });
});
