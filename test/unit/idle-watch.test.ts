/** Idle logoff under a fake clock: warned one minute before, cut at the timeout, input starts over. */
import { describe, expect, it } from 'vitest';
import { IdleWatch } from '../../proxy/idle-watch.js';

function fakeTime() {
  let t = 0;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  return {
    clock: { now: () => new Date(t) },
    timers: {
      setTimeout: (fn: () => void, ms: number) => (pending.set(++seq, { at: t + ms, fn }), seq),
      clearTimeout: (h: unknown) => void pending.delete(h as number),
    },
    advance(ms: number) {
      const until = t + ms;
      for (;;) {
        const next = [...pending.entries()].filter(([, p]) => p.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!next) break;
        pending.delete(next[0]);
        t = next[1].at;
        next[1].fn();
      }
      t = until;
    },
    pendingCount: () => pending.size,
  };
}

const MIN = 60_000;

function watch(timeoutMs: number) {
  const time = fakeTime();
  const seen: string[] = [];
  const w = new IdleWatch({ timeoutMs, ...time, onWarn: (left) => seen.push(`warn ${left}`), onIdle: () => seen.push('idle') });
  return { time, seen, w };
}

describe('IdleWatch', () => {
  it('warns one minute before and cuts at the timeout', () => {
    const { time, seen } = watch(15 * MIN);
    time.advance(14 * MIN - 1);
    expect(seen).toEqual([]);
    time.advance(1);
    expect(seen).toEqual([`warn ${MIN}`]);
    time.advance(MIN - 1);
    expect(seen).toHaveLength(1);
    time.advance(1);
    expect(seen).toEqual([`warn ${MIN}`, 'idle']);
    expect(time.pendingCount()).toBe(0);
  });

  it('input starts the stretch over, also after a warning; the warning comes again', () => {
    const { time, seen, w } = watch(15 * MIN);
    time.advance(10 * MIN);
    w.touch();
    time.advance(10 * MIN);
    expect(seen).toEqual([]);
    time.advance(4 * MIN);
    expect(seen).toEqual([`warn ${MIN}`]);
    w.touch(); // typed after the warning
    time.advance(14 * MIN - 1);
    expect(seen).toEqual([`warn ${MIN}`]);
    time.advance(MIN + 1);
    expect(seen).toEqual([`warn ${MIN}`, `warn ${MIN}`, 'idle']);
  });

  it('a short timeout warns at half of it; stop() ends it without a cut', () => {
    const { time, seen, w } = watch(4000);
    time.advance(2000);
    expect(seen).toEqual(['warn 2000']);
    w.stop();
    time.advance(10_000);
    expect(seen).toEqual(['warn 2000']);
  });
});
