/** Which typed lines an evidence bundle lists (server/core/evidence-typed-lines.ts LineKeeper). */
import { describe, expect, it } from 'vitest';
import { LineKeeper } from '../../server/core/evidence-typed-lines.js';

const kept = (limit: number, n: number) => {
  const k = new LineKeeper(limit);
  for (let i = 0; i < n; i++) k.push({ offsetSeconds: i, text: `line ${i}` });
  const r = k.result();
  return { texts: r.lines.map((l) => l.text), omitted: r.omitted };
};

describe('LineKeeper', () => {
  it('keeps every line up to its limit and says nothing is left out', () => {
    expect(kept(10, 10)).toEqual({ texts: Array.from({ length: 10 }, (_, i) => `line ${i}`), omitted: null });
    expect(kept(10, 3).texts).toEqual(['line 0', 'line 1', 'line 2']);
  });

  it('past its limit keeps the first half and the last half, in order, and counts the lines between', () => {
    expect(kept(4, 11)).toEqual({
      texts: ['line 0', 'line 1', 'line 9', 'line 10'],
      omitted: { afterLine: 2, count: 7, fromOffsetSeconds: 2, toOffsetSeconds: 8 },
    });
    // an odd limit gives the extra line to the head
    expect(kept(5, 6)).toEqual({ texts: ['line 0', 'line 1', 'line 2', 'line 4', 'line 5'], omitted: { afterLine: 3, count: 1, fromOffsetSeconds: 3, toOffsetSeconds: 3 } });
  });

  it('with a limit of one or none, lists what it can and counts every other line', () => {
    expect(kept(1, 4)).toEqual({ texts: ['line 0'], omitted: { afterLine: 1, count: 3, fromOffsetSeconds: 1, toOffsetSeconds: 3 } });
    expect(kept(0, 4)).toEqual({ texts: [], omitted: { afterLine: 0, count: 4, fromOffsetSeconds: 0, toOffsetSeconds: 3 } });
    expect(kept(0, 0)).toEqual({ texts: [], omitted: null });
  });
});
