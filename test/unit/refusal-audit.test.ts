/** The refusal aggregator on a fake clock and fake timers: one audit event per source and window, with a count. */
import { describe, expect, it } from 'vitest';
import { RefusalAudit, type Refusal } from '../../proxy/refusal-audit.js';
import type { AuthFailure } from '../../server/core/sessions.js';

const MINUTE = 60_000;

function rig(o: { maxSources?: number; failWrites?: number } = {}) {
  let now = Date.parse('2026-12-01T10:00:00Z');
  const timers = new Set<{ fn: () => void; at: number }>();
  const written: (AuthFailure & { writtenAt: number })[] = [];
  const errors: unknown[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let failures = o.failWrites ?? 0;
  const audit = new RefusalAudit({
    windowMs: MINUTE,
    maxSources: o.maxSources,
    now: () => now,
    timers: {
      setTimeout: (fn, ms) => {
        const t = { fn, at: now + ms };
        timers.add(t);
        return t;
      },
      clearTimeout: (t) => void timers.delete(t as { fn: () => void; at: number }),
    },
    write: async (e) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await Promise.resolve();
      inFlight--;
      if (failures > 0) {
        failures--;
        throw new Error('database unavailable');
      }
      written.push({ ...e, writtenAt: now });
    },
    onError: (err) => errors.push(err),
  });
  /** moves the clock on, firing due timers in order, and lets the writes they start finish */
  async function advance(ms: number) {
    const until = now + ms;
    for (;;) {
      const due = [...timers].filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      timers.delete(due);
      now = Math.max(now, due.at);
      due.fn();
      await settle();
    }
    now = until;
    await settle();
  }
  const settle = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  const refusal = (clientAddress: string | null, n = 0): Refusal => ({ reason: n % 3 === 0 ? 'bad CA signature' : `reason ${n % 7}`, principal: `dev-${n % 9}`, clientAddress });
  const total = (rows = written) => rows.reduce((s, r) => s + (r.count ?? 0), 0);
  return { audit, written, errors, timers, advance, refusal, total, get maxInFlight() { return maxInFlight; } };
}

describe('RefusalAudit', () => {
  it('writes a lone refusal at once, with count 1, before record() resolves', async () => {
    const t = rig();
    await t.audit.record({ reason: 'certificate expired', principal: 'pump-1', clientAddress: '10.0.0.5', keyId: 'k' });
    expect(t.written).toEqual([expect.objectContaining({ reason: 'certificate expired', principal: 'pump-1', clientAddress: '10.0.0.5', keyId: 'k', count: 1 })]);
    await t.advance(MINUTE);
    expect(t.written).toHaveLength(1); // nothing was held: no second event
    expect(t.timers.size).toBe(0);
    expect(t.audit.openWindows).toBe(0);
  });

  it('1,000 refusals from one address within a minute: two events, counts adding up to 1,000', async () => {
    const t = rig();
    for (let i = 0; i < 1000; i++) {
      await t.audit.record(t.refusal('203.0.113.7', i));
      await t.advance(10);
    }
    expect(t.written).toHaveLength(1);
    await t.advance(MINUTE);
    expect(t.written).toHaveLength(2);
    const [lead, summary] = t.written;
    expect(lead!.count).toBe(1);
    expect(summary).toMatchObject({ clientAddress: '203.0.113.7', count: 999, reason: 'reason 1', principal: 'dev-1' });
    expect(Object.values(summary!.reasons!).reduce((a, b) => a + b, 0)).toBe(999);
    expect(Object.keys(summary!.reasons!).length).toBeLessThanOrEqual(6); // 5 sampled + "(other reasons)"
    expect(summary!.reasons!['bad CA signature']).toBe(333);
    expect(summary!.principals!.length).toBe(5);
    expect(Date.parse(summary!.lastAt!) - Date.parse(summary!.firstAt!)).toBe(998 * 10);
    expect(summary!.writtenAt - lead!.writtenAt).toBe(MINUTE);
    expect(t.total()).toBe(1000);
  });

  it('a steady flood: events from one address at least a window apart, none lost', async () => {
    const t = rig();
    let sent = 0;
    for (let s = 0; s < 5 * 60; s++) {
      for (let k = 0; k < 4; k++, sent++) await t.audit.record(t.refusal('198.51.100.1', sent));
      await t.advance(1000);
    }
    await t.advance(2 * MINUTE);
    const times = t.written.map((r) => r.writtenAt);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(MINUTE);
    expect(t.written.length).toBeLessThanOrEqual(6);
    expect(t.total()).toBe(sent);
  });

  it('each address has its own window; a quiet address starts over with an immediate event', async () => {
    const t = rig();
    await t.audit.record(t.refusal('192.0.2.1'));
    await t.audit.record(t.refusal('192.0.2.2'));
    await t.audit.record(t.refusal('192.0.2.1'));
    expect(t.written.map((r) => [r.clientAddress, r.count])).toEqual([['192.0.2.1', 1], ['192.0.2.2', 1]]);
    await t.advance(MINUTE);
    expect(t.written.map((r) => [r.clientAddress, r.count])).toEqual([['192.0.2.1', 1], ['192.0.2.2', 1], ['192.0.2.1', 1]]);
    await t.advance(MINUTE); // 192.0.2.1's renewed window ends empty
    await t.audit.record(t.refusal('192.0.2.1'));
    expect(t.written).toHaveLength(4);
    expect(t.written[3]).toMatchObject({ clientAddress: '192.0.2.1', count: 1 });
  });

  it('bounded under a flood from many addresses: past maxSources they share one overflow event', async () => {
    const t = rig({ maxSources: 10 });
    for (let i = 0; i < 500; i++) await t.audit.record(t.refusal(`10.1.${i >> 8}.${i & 255}`, i));
    expect(t.audit.openWindows).toBe(11);
    expect(t.written).toHaveLength(10);
    await t.advance(MINUTE);
    const overflow = t.written.filter((r) => r.clientAddress === null);
    expect(overflow).toHaveLength(1);
    expect(overflow[0]).toMatchObject({ count: 490, sources: ['10.1.0.10', '10.1.0.11', '10.1.0.12', '10.1.0.13', '10.1.0.14'] });
    expect(t.total()).toBe(500);
    expect(t.maxInFlight).toBe(1); // one write at a time, never a burst of transactions
    await t.advance(MINUTE);
    expect(t.audit.openWindows).toBe(0);
  });

  it('close() writes what is held and records nothing after', async () => {
    const t = rig();
    for (let i = 0; i < 50; i++) await t.audit.record(t.refusal('192.0.2.9', i));
    expect(t.written).toHaveLength(1);
    await t.audit.close();
    expect(t.written.map((r) => r.count)).toEqual([1, 49]);
    expect(t.timers.size).toBe(0);
    await t.audit.record(t.refusal('192.0.2.9'));
    await t.advance(2 * MINUTE);
    expect(t.written).toHaveLength(2);
  });

  it('a failed write is reported and does not stop later ones', async () => {
    const t = rig({ failWrites: 1 });
    await t.audit.record(t.refusal('192.0.2.3'));
    await t.audit.record(t.refusal('192.0.2.4'));
    expect(t.errors).toHaveLength(1);
    expect(t.written.map((r) => r.clientAddress)).toEqual(['192.0.2.4']);
  });
});
