/** What was typed and shown, line by line, from a recording's events (server/core/typed-lines.ts). */
import { describe, expect, it } from 'vitest';
import { castLines, CastLineWalker, type CastLines } from '../../server/core/typed-lines.js';

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

  it('takes exact bytes from "b" events and skips their display event; output keeps no escape sequences', () => {
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

  it('walked in pieces, resumed from a saved state each time, gives the same lines as the whole cast', () => {
    const text = cast(
      [0.1, 'o', 'pump$ '], [0.5, 'i', 'ls -'], [0.6, 'i', 'l\x7fa\r'], [0.7, 'o', 'ls -a\r\n\x1b[1'], [0.8, 'o', 'mbin\x1b[0m  etc\r\npump$ '],
      [1, 'b', `o:${Buffer.from([0xe2, 0x82]).toString('base64')}`], [1, 'o', '\ufffd'], [1.5, 'o', '\xac done\r\n'], [2, 'i', 'exit'],
    );
    const lines = text.split('\n');
    for (let step = 1; step <= lines.length; step++) {
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
      expect(got, `pieces of ${step} lines`).toEqual(castLines(text));
    }
  });
});
