/** What was typed and shown, line by line, from a recording's events (server/core/typed-lines.ts). */
import { describe, expect, it } from 'vitest';
import { castLines } from '../../server/core/typed-lines.js';

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
});
