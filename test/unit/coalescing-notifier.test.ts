/** The PostgreSQL bus's publisher (pg-bus.ts coalescingNotifier): batching, order, failure and a statement that never answers. */
import { describe, expect, it } from 'vitest';
import { coalescingNotifier } from '../../server/bus/pg-bus.js';

function fakeSend() {
  const sent: { payloads: string[]; resolve: () => void; reject: (e: Error) => void }[] = [];
  const send = (payloads: string[]) => new Promise<void>((resolve, reject) => sent.push({ payloads, resolve, reject }));
  return { sent, send };
}
const settled = async <T>(p: Promise<T>) => p.then(() => 'resolved', (e: Error) => `rejected: ${e.message}`);
const tick = () => new Promise((r) => setImmediate(r));

describe('coalescingNotifier', () => {
  it('sends one statement at a time; what piles up meanwhile goes together, in order', async () => {
    const { sent, send } = fakeSend();
    const notify = coalescingNotifier(send);
    const first = notify(['a']);
    const rest = [notify(['b']), notify(['c', 'd']), notify(['e'])];
    expect(sent.map((s) => s.payloads)).toEqual([['a']]);
    sent[0]!.resolve();
    expect(await settled(first)).toBe('resolved');
    await tick();
    expect(sent.map((s) => s.payloads)).toEqual([['a'], ['b', 'c', 'd', 'e']]);
    sent[1]!.resolve();
    expect(await Promise.all(rest.map(settled))).toEqual(['resolved', 'resolved', 'resolved']);
  });

  it('fails the callers of a failed statement only; the next goes out', async () => {
    const { sent, send } = fakeSend();
    const notify = coalescingNotifier(send);
    const a = notify(['a']);
    const b = notify(['b']);
    sent[0]!.reject(new Error('connection lost'));
    expect(await settled(a)).toBe('rejected: connection lost');
    await tick();
    sent[1]!.resolve();
    expect(await settled(b)).toBe('resolved');
  });

  it('a statement that never answers fails its callers after the timeout and holds nothing up', async () => {
    const { sent, send } = fakeSend();
    const notify = coalescingNotifier(send, 30);
    const stuck = notify(['a']);
    const next = notify(['b']);
    expect(await settled(stuck)).toBe('rejected: NOTIFY not answered within 30 ms');
    await tick();
    expect(sent.map((s) => s.payloads)).toEqual([['a'], ['b']]);
    sent[1]!.resolve();
    expect(await settled(next)).toBe('resolved');
  });

  it('keeps a statement to 1,000 payloads (an event split in many goes whole)', async () => {
    const { sent, send } = fakeSend();
    const notify = coalescingNotifier(send);
    const all = [notify(['first']), ...Array.from({ length: 1500 }, (_, i) => notify([`p${i}`])), notify(Array.from({ length: 1200 }, (_, i) => `big${i}`))];
    for (let i = 0; i < 4; i++) {
      sent[i]!.resolve();
      await tick();
    }
    expect(sent.map((s) => s.payloads.length)).toEqual([1, 1000, 500, 1200]);
    expect(sent.flatMap((s) => s.payloads).slice(1, 1501)).toEqual(Array.from({ length: 1500 }, (_, i) => `p${i}`));
    expect(new Set(await Promise.all(all.map(settled)))).toEqual(new Set(['resolved']));
  });
});
