/** What was typed and shown, line by line, from a recording's events (server/core/typed-lines.ts). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryEventBytes, castForm, encodeEvent, parseCast } from '../../proxy/recording/asciicast.js';
import { createRecorder } from '../../proxy/recording/recorder.js';
import { binaryBlock, binaryDisplay, castLines, CastLineWalker, type CastLines } from '../../server/core/typed-lines.js';
import { readRecordingPiece } from '../../server/jobs/recording-tail.js';

/** The lines walked `step` at a time, each piece by a new walker resumed from the last one's saved state (JSON). */
function walkInPieces(lines: (string | Buffer)[], step: number): CastLines {
  const got: CastLines = { input: [], output: [] };
  let state = JSON.stringify(new CastLineWalker().state());
  for (let i = 0; i < lines.length; i += step) {
    const walker = new CastLineWalker({ from: JSON.parse(state) });
    for (const l of lines.slice(i, i + step)) walker.line(l);
    if (i + step >= lines.length) walker.finish();
    const part = walker.take();
    got.input.push(...part.input);
    got.output.push(...part.output);
    state = JSON.stringify(walker.state());
  }
  return got;
}

const cast = (...events: [number, string, string][]) =>
  [JSON.stringify({ version: 2, width: 80, height: 24 }), ...events.map((e) => JSON.stringify(e))].join('\n');

describe('castLines', () => {
  it('applies backspace and ^U, drops arrow keys (even split across events), cuts at CR', () => {
    const { input } = castLines(cast(
      [1, 'i', 'pas'], [1.2, 'i', 'wx\x7f\x7fswd'], [1.4, 'i', '\r'],
      [2, 'i', 'rm -rf /\x15ls -l'], [2.5, 'i', '\x1b['], [2.6, 'i', 'A\r'],
    ));
    expect(input).toEqual([{ offsetSeconds: 1, text: 'passwd' }, { offsetSeconds: 2, text: 'ls -l' }]);
  });

  it('backspace removes a whole character (a surrogate pair), even at the end of a long line', () => {
    const { input } = castLines(cast([1, 'i', `${'y'.repeat(100_000)}\u{1F600}\u{1F600}\x7f!\r`], [2, 'i', 'a\udc00\x7fb\r']));
    expect(input).toEqual([{ offsetSeconds: 1, text: `${'y'.repeat(100_000)}\u{1F600}!` }, { offsetSeconds: 2, text: 'ab' }]);
  });

  it('cuts a line at maxLineChars and counts what it left out; backspace takes the left-out characters first, across a saved state', () => {
    const lines = [
      JSON.stringify({ version: 2, width: 80, height: 24 }),
      JSON.stringify([1, 'i', 'echo 0123456789']), JSON.stringify([1.5, 'i', 'abcdef\x7f\x7f']), JSON.stringify([2, 'i', '\x7f\r']),
      JSON.stringify([3, 'i', 'ls\x15rm -rf /data/archive/2026\x15who\r']),
      JSON.stringify([4, 'o', '0123456789abcdef\r\nok\r\n']),
    ];
    const walker = new CastLineWalker({ maxLineChars: 10 });
    for (const l of lines) walker.line(l);
    walker.finish();
    const whole = walker.take();
    // 'echo 0123456789abcdef' less three characters: 18, of which 10 kept
    expect(whole.input).toEqual([{ offsetSeconds: 1, text: 'echo 01234', cutChars: 8 }, { offsetSeconds: 3, text: 'who' }]);
    expect(whole.output).toEqual([{ offsetSeconds: 4, text: '0123456789', cutChars: 6 }, { offsetSeconds: 4, text: 'ok' }]);
    const pieces: CastLines = { input: [], output: [] };
    let state = JSON.stringify(new CastLineWalker().state());
    for (const l of lines) {
      const w = new CastLineWalker({ maxLineChars: 10, from: JSON.parse(state) });
      w.line(l);
      if (l === lines.at(-1)) w.finish();
      const part = w.take();
      pieces.input.push(...part.input);
      pieces.output.push(...part.output);
      state = JSON.stringify(w.state());
    }
    expect(pieces).toEqual(whole);
  });

  it('takes a "b" event\'s text from its display event; output keeps no escape sequences', () => {
    const { input, output } = castLines(cast(
      [0.5, 'o', '\x1b[1;32mok\x1b[0m\r\n'],
      [1, 'b', `i:${Buffer.from('caf\u00e9\r').toString('base64')}`], [1, 'i', 'café\r'],
    ) + '\n[3, "o", "torn');
    expect(input).toEqual([{ offsetSeconds: 1, text: 'café' }]);
    expect(output).toEqual([{ offsetSeconds: 0.5, text: 'ok' }]);
  });

  it('finds output laced with NUL bytes (kept exactly in a "b" event) as the text a terminal showed', () => {
    const laced = Buffer.from([...'rm -rf /data/druglib; echo wiped\r\n'].flatMap((ch) => [0, 0, ch.charCodeAt(0)]));
    const { output } = castLines(cast([1, 'b', `o:${laced.toString('base64')}`], [1, 'o', 'rm -rf /data/druglib; echo wiped\r\n']));
    expect(output).toEqual([{ offsetSeconds: 1, text: 'rm -rf /data/druglib; echo wiped' }]);
  });

  it('gives no output lines for a block of binary output (which ends the line before it), but keeps text with a few invalid bytes', () => {
    const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 151 + 7) % 256));
    const mixed = Buffer.concat([Buffer.from('firmware v2.1 ok '), Buffer.from([0xff]), Buffer.from(' done\r\n')]);
    const short = Buffer.from([0xff, 0x0d, 0x0a]);
    const { output } = castLines(cast(
      [0.5, 'o', 'pump$ cat fw.bin'],
      [1, 'b', `o:${binary.toString('base64')}`], [1, 'o', binary.toString('utf8')],
      [2, 'o', '\r\n'],
      [3, 'b', `o:${mixed.toString('base64')}`], [3, 'o', mixed.toString('utf8')],
      [4, 'o', 'pump$ x'], [4.5, 'b', `o:${short.toString('base64')}`], [4.5, 'o', short.toString('utf8')],
    ));
    expect(output).toEqual([
      { offsetSeconds: 0.5, text: 'pump$ cat fw.bin' },
      { offsetSeconds: 3, text: 'firmware v2.1 ok \ufffd done' },
      { offsetSeconds: 4, text: 'pump$ x\ufffd' },
    ]);
  });

  it('gives one "[binary input]" line for a run of binary input (a firmware image piped to stdin), not garbage lines', () => {
    const image = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 151 + 7) % 256));
    const paste = Buffer.from([...Buffer.from('echo caf'), 0xe9, 0x0d]);
    const { input } = castLines(cast(
      [1, 'i', 'cat > /tmp/fw.bin'],
      [2, 'b', `i:${image.toString('base64')}`], [2, 'i', image.toString('utf8').replaceAll('\0', '')],
      [2.1, 'b', `i:${Buffer.from([0xfe, 0x0d]).toString('base64')}`], [2.1, 'i', '\ufffd\r'], // its short tail
      [3, 'b', `i:${paste.toString('base64')}`], [3, 'i', paste.toString('utf8')],
    ));
    expect(input).toEqual([{ offsetSeconds: 1, text: 'cat > /tmp/fw.bin' }, { offsetSeconds: 2, text: '[binary input]' }, { offsetSeconds: 3, text: 'echo caf\ufffd' }]);
  });

  it('does not let a command sent inside a block of binary input leave no typed line', () => {
    const junk = Buffer.from(Array.from({ length: 600 }, (_, i) => 0x80 + (i % 64)));
    const hidden = Buffer.concat([junk, Buffer.from('\rrm -rf /data/druglib\r'), junk]);
    const { input } = castLines(cast([1, 'i', 'ls\r'], [2, 'b', `i:${hidden.toString('base64')}`], [2, 'i', hidden.toString('utf8')]));
    expect(input).toEqual([{ offsetSeconds: 1, text: 'ls' }, { offsetSeconds: 2, text: '[binary input]' }]);
  });

  it('reads a "b" event whose display event was torn off from its own bytes', () => {
    const { output } = castLines(cast([0.5, 'o', 'pump$ '], [1, 'b', `o:${Buffer.from([0x6c, 0x73, 0xff]).toString('base64')}`]) + '\n[1, "o", "ls');
    expect(output).toEqual([{ offsetSeconds: 0.5, text: 'pump$ ls\ufffd' }]);
  });

  it('resumes from a state saved before the walk awaited display events (the display after a "b" adds nothing)', () => {
    // the old walk had read `[1, "b", "i:<base64 of 'o'>"]` and added its text
    const walker = new CastLineWalker({ from: { first: false, skipDisplay: true, input: { current: 'echo', startedAt: 1, pendingEscape: '' }, output: { current: '', startedAt: 0, pendingEscape: '' } } });
    for (const line of ['[1, "i", "o"]', '[2, "i", " -n\\r"]']) walker.line(line);
    walker.finish();
    expect(walker.take().input).toEqual([{ offsetSeconds: 1, text: 'echo -n' }]);
  });

  it('walked in pieces, resumed from a saved state each time, gives the same lines as the whole cast', () => {
    const text = cast(
      [0.1, 'o', 'pump$ '], [0.5, 'i', 'ls -'], [0.6, 'i', 'l\x7fa\r'], [0.7, 'o', 'ls -a\r\n\x1b[1'], [0.8, 'o', 'mbin\x1b[0m  etc\r\npump$ '],
      [1, 'b', `o:${Buffer.from([0xe2, 0x82]).toString('base64')}`], [1, 'o', '\ufffd'], [1.5, 'o', '\xac done\r\n'], [2, 'i', 'exit'],
    );
    const lines = text.split('\n');
    for (let step = 1; step <= lines.length; step++) {
      expect(walkInPieces(lines, step), `pieces of ${step} lines`).toEqual(castLines(text));
    }
  });
});

describe('recordings the recorder writes', () => {
  let dir: string;
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'portcullis-typed-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A recording of the given pieces (output and input, in order) by the proxy's recorder, as text. */
  async function record(pieces: ['o' | 'i', Buffer][], path = join(dir, `r-${Math.random().toString(36).slice(2)}.cast`)): Promise<string> {
    const clock = { ms: 1_700_000_000_000, now: () => clock.ms };
    const rec = await createRecorder({ path, width: 80, height: 24, title: 't', clock, recordInput: true, timers: { setInterval: () => 1, clearInterval: () => undefined } });
    for (const [stream, bytes] of pieces) {
      clock.ms += 10;
      if (stream === 'o') rec.output(bytes);
      else rec.input(bytes);
    }
    await rec.close();
    return readFileSync(path, 'utf8');
  }

  it('each "b" event is followed by a display event carrying the text the walk would decode from its bytes', async () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const kinds: (() => Buffer)[] = [
      () => Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 3000) }, () => Math.floor(rnd() * 256))), // random bytes
      () => Buffer.from([...Buffer.from('ok caf\u00e9 \u6e29\u5ea6 \r\n')].flatMap((b) => (rnd() < 0.5 ? [0, b] : [b]))), // NUL-laced text
      () => Buffer.concat([Buffer.from('v2.1 '), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from(' \x1b[1mdone\r\n')]), // a broken character
      () => Buffer.alloc(64 + Math.floor(rnd() * 200)), // all NUL
    ];
    const pieces: ['o' | 'i', Buffer][] = Array.from({ length: 200 }, () => [rnd() < 0.5 ? 'o' : 'i', kinds[Math.floor(rnd() * kinds.length)]()]);
    const { events } = parseCast(await record(pieces));
    let checked = 0;
    events.forEach((e, i) => {
      if (e.code !== 'b') return;
      const { stream, bytes } = binaryEventBytes(e.data);
      expect(events[i + 1]).toEqual({ time: e.time, code: stream, data: bytes.toString('utf8').replaceAll('\0', '') });
      checked++;
    });
    expect(checked).toBeGreaterThan(50);
  });

  it('walks the same lines from the file\'s bytes (as the indexer reads it) as from its text, in any pieces', async () => {
    let seed = 11;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const bytes = (n: number, f: () => number) => Buffer.from(Array.from({ length: n }, f));
    const pieces: ['o' | 'i', Buffer][] = Array.from({ length: 300 }, () => {
      const k = rnd();
      const stream = rnd() < 0.6 ? 'o' : 'i';
      if (k < 0.3) return [stream, bytes(1 + Math.floor(rnd() * 4000), () => Math.floor(rnd() * 256))]; // random
      if (k < 0.5) return [stream, bytes(1 + Math.floor(rnd() * 300), () => (rnd() < 0.2 ? Math.floor(rnd() * 256) : 0x20 + Math.floor(rnd() * 90)))]; // text, some invalid
      if (k < 0.6) return [stream, Buffer.alloc(16 + Math.floor(rnd() * 100))]; // NULs
      return [stream, Buffer.from(`line ${Math.floor(rnd() * 1e6)} caf\u00e9 \u{1f600}\x1b[0m\r\n`)];
    });
    const text = await record(pieces);
    const lines = Buffer.from(text).toString('utf8').split('\n');
    for (const step of [1, 2, 7, 1000]) {
      expect(walkInPieces(lines.map((l) => Buffer.from(l)), step), `pieces of ${step} lines`).toEqual(castLines(text));
    }
    expect(castLines(text).output.length).toBeGreaterThan(20);
  });

  it('read in pieces of any size as the indexer reads the file (binary events as bytes), walks to the same lines', async () => {
    let seed = 13;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pieces: ['o' | 'i', Buffer][] = Array.from({ length: 120 }, (_, i) => {
      const stream = rnd() < 0.6 ? 'o' : 'i';
      if (i % 3 === 0) return [stream, Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 90_000) }, () => Math.floor(rnd() * 256)))];
      if (i % 3 === 1) return [stream, Buffer.from(`shown ${i}: caf\u00e9 ${'x'.repeat(Math.floor(rnd() * 3000))}\r\n`)];
      return [stream, Buffer.from([...Buffer.from(`laced ${i}\r\n`)].flatMap((b) => [0, b]))];
    });
    const path = join(dir, 'pieces.cast');
    const text = await record(pieces, path);
    const whole = castLines(text);
    expect(whole.output.length + whole.input.length).toBeGreaterThan(30);
    for (const want of [4096, 65_536, 300_000, 4 << 20]) {
      const got: CastLines = { input: [], output: [] };
      let state = JSON.stringify(new CastLineWalker().state());
      let offset = 0;
      let asBytes = 0;
      for (;;) {
        const piece = await readRecordingPiece(path, offset, want, true);
        const walker = new CastLineWalker({ from: JSON.parse(state) });
        for (const line of piece.lines) {
          if (typeof line !== 'string') asBytes++;
          walker.line(line);
        }
        if (piece.atEnd) walker.finish();
        const part = walker.take();
        got.input.push(...part.input);
        got.output.push(...part.output);
        state = JSON.stringify(walker.state());
        offset = piece.nextOffset;
        if (piece.atEnd) break;
      }
      expect(asBytes, `pieces of ${want} bytes`).toBeGreaterThan(20);
      expect(got, `pieces of ${want} bytes`).toEqual(whole);
    }
  });

  it('gives what a technician typed and saw, and of a binary image sent or shown only that binary input was sent', async () => {
    const image = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919 + (i >> 8)) % 256));
    const text = await record([
      ['o', Buffer.from('pump$ ')], ['i', Buffer.from('cat > /tmp/fw.bin\r')], ['o', Buffer.from('cat > /tmp/fw.bin\r\n')], ['i', image], ['i', Buffer.from([0x04])],
      ['o', Buffer.from('pump$ ')], ['i', Buffer.from([...Buffer.from('md5sum /tmp/fw.bin # caf'), 0xe9, 0x0d])], ['o', Buffer.from([...Buffer.from('md5sum /tmp/fw.bin # caf'), 0xe9, 0x0d, 0x0a])],
      ['o', Buffer.concat([Buffer.from('3f2a  /tmp/fw.bin\r\npump$ '), Buffer.from([0, 0])])], ['o', image], ['o', Buffer.from('\r\nserial 0042 ok\r\n')],
    ]);
    expect(text).toContain('"b", "i:');
    expect(text).toContain('"b", "o:');
    const { input, output } = castLines(text);
    expect(input.map((l) => l.text)).toEqual(['cat > /tmp/fw.bin', '[binary input]', 'md5sum /tmp/fw.bin # caf\ufffd']);
    expect(output.map((l) => l.text)).toEqual(['pump$ cat > /tmp/fw.bin', 'pump$ md5sum /tmp/fw.bin # caf\ufffd', '3f2a  /tmp/fw.bin', 'pump$', 'serial 0042 ok']);
  });
});

describe('binaryDisplay', () => {
  /** what the walk decides from the decoded text: a block of binary once NULs are left out */
  const decoded = (line: string) => binaryBlock((JSON.parse(line) as [number, string, string])[2].replaceAll('\0', ''));
  const judge = (line: string) => {
    const bytes = Buffer.from(line);
    return binaryDisplay(bytes, bytes.toString('latin1', 0, 64));
  };

  it('judges a display event from its bytes as the walk does from its text', () => {
    let seed = 3;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = ['a', ' ', '\ufffd', '\x01', '\x7f', '\x1b', '\t', '\r', '\n', '\0', '"', '\\', '/', '\b', '\f', 'é', '温', '😀', '\u2028', '\ud800', '\ufffc'];
    let binary = 0;
    for (let n = 0; n < 4000; n++) {
      const len = Math.floor(rnd() * 200);
      const weights = alphabet.map(() => rnd() ** 3);
      const total = weights.reduce((a, b) => a + b, 0);
      let text = '';
      for (let i = 0; i < len; i++) {
        let r = rnd() * total;
        let k = 0;
        while ((r -= weights[k]!) > 0 && k < alphabet.length - 1) k++;
        text += alphabet[k];
      }
      const line = encodeEvent(rnd() * 100, rnd() < 0.5 ? 'o' : 'i', text);
      const expected = decoded(line);
      if (expected) binary++;
      expect(judge(line), JSON.stringify(text)).toBe(expected);
    }
    expect(binary).toBeGreaterThan(200);
  });

  it('judges the recorder\'s display form of random bytes as the walk does', () => {
    let seed = 5;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let n = 0; n < 300; n++) {
      const density = rnd();
      const raw = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 3000) }, () => (rnd() < density ? Math.floor(rnd() * 256) : 0x61)));
      const { escaped } = castForm(raw, false);
      const line = `[1.000000, "o", "${escaped.toString()}"]`;
      expect(judge(line), raw.toString('hex').slice(0, 40)).toBe(decoded(line));
    }
  });

  it('leaves to the text walk what the recorder would not write', () => {
    const block = '\ufffd'.repeat(100);
    expect(judge(`[1.000000, "o", "${block}"]`)).toBe(true);
    expect(judge(`[1.000000, "m", "${block}"]`)).toBe(false); // not a display event
    expect(judge(`[1.000000, "o", "${block}`)).toBe(false); // torn
    expect(judge(`[1.000000, "o", "${block}\\q"]`)).toBe(false); // not a JSON escape
    expect(judge(`[1.000000, "o", "${block}\\"]`)).toBe(false); // its string is not closed
    const invalid = Buffer.concat([Buffer.from(`[1.000000, "o", "${block}`), Buffer.from([0xff]), Buffer.from('"]')]);
    expect(binaryDisplay(invalid, invalid.toString('latin1', 0, 64))).toBe(false); // not UTF-8
  });
});
