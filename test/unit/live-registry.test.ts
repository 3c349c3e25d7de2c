/**
 * The proxy's cut-off logic under a fake clock and fake timers: timers to the grant's end, a member
 * registered while its connection is still opening, bus hints (a forged extension moves nothing
 * until the database says so), the periodic re-check that catches a lost revocation or a change of
 * vendor, and a database that cannot be read.
 */
import { describe, expect, it } from 'vitest';
import { LiveRegistry, type GrantCheck, type LiveMember, type RegistryTimers } from '../../proxy/live-registry.js';

/** A clock and timers that only move when the test says so. */
class FakeTime implements RegistryTimers {
  private t = Date.parse('2026-11-30T10:00:00Z');
  private seq = 0;
  private pending = new Map<number, { at: number; fn: () => void }>();
  now = () => new Date(this.t);
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
  /** moves time forward, running each timer that falls due, in order (and what they schedule) */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    for (;;) {
      const next = [...this.pending.entries()].filter(([, p]) => p.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
      await flush();
    }
    this.t = until;
    await flush();
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));
const MIN = 60_000;

interface Seen {
  cuts: { reason: string; text: string }[];
  notices: string[];
}

function member(grantId: string, sessionId?: string): LiveMember & Seen {
  const seen: Seen = { cuts: [], notices: [] };
  return {
    ...seen, grantId, deviceName: 'pump-7', ...(sessionId ? { sessionId } : {}),
    notify(text) {
      seen.notices.push(text);
    },
    cut(reason, text) {
      seen.cuts.push({ reason, text });
    },
  };
}

/** A registry whose database answers are set per grant by the test. */
function setup() {
  const time = new FakeTime();
  const db = new Map<string, GrantCheck | Error>();
  const checks: string[] = [];
  const errors: string[] = [];
  const registry = new LiveRegistry({
    clock: { now: time.now },
    timers: time,
    warningMinutes: [5, 1],
    checkGrant: async (grantId) => {
      checks.push(grantId);
      const answer = db.get(grantId);
      if (answer instanceof Error) throw answer;
      return answer ?? { ok: false, reason: 'revoked', message: 'no such grant' };
    },
    onCheckError: (_err, grantId) => errors.push(grantId),
  });
  const at = (minutes: number) => new Date(time.now().getTime() + minutes * MIN);
  return { time, db, checks, errors, registry, at };
}

describe('LiveRegistry', () => {
  it('warns at T-5 and T-1 and cuts at the end of the grant', async () => {
    const { time, registry, at } = setup();
    const m = member('g1', 's1');
    registry.add(m, at(10));
    await time.advance(5 * MIN);
    expect(m.notices).toHaveLength(1);
    expect(m.notices[0]).toMatch(/ends in 5 minutes/);
    await time.advance(4 * MIN);
    expect(m.notices[1]).toMatch(/ends in 1 minute/);
    expect(m.cuts).toEqual([]);
    await time.advance(MIN);
    expect(m.cuts.map((c) => c.reason)).toEqual(['expired']);
    expect(registry.has('g1')).toBe(false);
  });

  it('a revocation reaches a member registered while its connection is still opening', () => {
    const { registry, at } = setup();
    // the relay registers first, then reads the grant and opens the device connection
    const opening = member('g1');
    registry.add(opening, at(30));
    registry.apply({ type: 'grant.ended', grantIds: ['g1'], reason: 'revoked', message: 'kill switch' });
    expect(opening.cuts).toEqual([{ reason: 'revoked', text: 'access revoked: kill switch; disconnecting' }]);
  });

  it('addOpening: a cut while opening is remembered and told once; after live() cuts go to the session', () => {
    const { registry, at } = setup();
    const early: string[] = [];
    const a = registry.addOpening({ grantId: 'g1', deviceName: 'pump-7', endsAt: at(30) }, (reason, text) => early.push(`${reason}: ${text}`));
    registry.apply({ type: 'grant.ended', grantIds: ['g1'], reason: 'revoked', message: 'kill switch' });
    registry.apply({ type: 'grant.ended', grantIds: ['g1'], reason: 'revoked', message: 'again' });
    expect(early).toEqual(['revoked: access revoked: kill switch; disconnecting']);
    expect(a.cutWhileOpening).toEqual({ reason: 'revoked', text: 'access revoked: kill switch; disconnecting' });

    const b = registry.addOpening({ grantId: 'g2', deviceName: 'pump-7', endsAt: at(30) }, () => early.push('not expected'));
    const cuts: string[] = [];
    b.live({ notify: () => undefined, cut: (reason) => cuts.push(reason) });
    registry.apply({ type: 'grant.ended', grantIds: ['g2'], reason: 'expired', message: '' });
    expect(cuts).toEqual(['expired']);
    expect(b.cutWhileOpening).toBeNull();
    expect(early).toHaveLength(1);
    const c = registry.addOpening({ grantId: 'g3', deviceName: 'pump-7', endsAt: at(30) }, () => undefined);
    c.remove();
    expect(registry.has('g3')).toBe(false);
  });

  it('a forged grant.extended moves nothing: the grant is read, and its real end still cuts', async () => {
    const { time, db, checks, registry, at } = setup();
    const m = member('g1', 's1');
    const realEnd = at(2);
    registry.add(m, realEnd);
    db.set('g1', { ok: true, endsAt: realEnd });
    registry.apply({ type: 'grant.extended', grantId: 'g1', endsAt: at(600).toISOString() });
    await flush();
    expect(checks).toEqual(['g1']);
    expect(m.notices).toEqual([]);
    await time.advance(2 * MIN);
    expect(m.cuts.map((c) => c.reason)).toEqual(['expired']);
  });

  it('a real extension, read from the database, re-arms the timers and tells the technician', async () => {
    const { time, db, registry, at } = setup();
    const m = member('g1', 's1');
    registry.add(m, at(2));
    const newEnd = at(32);
    db.set('g1', { ok: true, endsAt: newEnd });
    registry.apply({ type: 'grant.extended', grantId: 'g1', endsAt: newEnd.toISOString() });
    await flush();
    expect(m.notices.join()).toMatch(/access extended until/);
    await time.advance(10 * MIN);
    expect(m.cuts).toEqual([]);
    await time.advance(22 * MIN);
    expect(m.cuts.map((c) => c.reason)).toEqual(['expired']);
  });

  it('the periodic re-check cuts a grant whose revocation message was lost, within one interval', async () => {
    const { time, db, registry, at } = setup();
    const m = member('g1', 's1');
    const other = member('g2', 's2');
    registry.add(m, at(60));
    registry.add(other, at(60));
    db.set('g1', { ok: true, endsAt: at(60) });
    db.set('g2', { ok: true, endsAt: at(60) });
    registry.startRechecks(5000);
    await time.advance(5000);
    expect(m.cuts).toEqual([]);
    // revoked in the database; the bus message never arrives
    db.set('g1', { ok: false, reason: 'revoked', message: 'technician moved to another vendor' });
    await time.advance(5000);
    expect(m.cuts).toEqual([{ reason: 'revoked', text: 'access revoked: technician moved to another vendor; disconnecting' }]);
    expect(other.cuts).toEqual([]);
    registry.stopRechecks();
  });

  it('a re-check that finds the window over cuts as expired, and a shortened grant is re-armed', async () => {
    const { time, db, registry, at } = setup();
    const a = member('g1', 's1');
    const b = member('g2', 's2');
    registry.add(a, at(60));
    registry.add(b, at(60));
    db.set('g1', { ok: false, reason: 'expired', message: 'the approved access window has ended' });
    db.set('g2', { ok: true, endsAt: at(3) }); // the contract now ends sooner
    await registry.recheck();
    expect(a.cuts.map((c) => c.reason)).toEqual(['expired']);
    expect(b.notices).toEqual([]);
    await time.advance(3 * MIN);
    expect(b.cuts.map((c) => c.reason)).toEqual(['expired']);
  });

  it('a database that cannot be read keeps the session and its own end timer, and is reported', async () => {
    const { time, db, errors, registry, at } = setup();
    const m = member('g1', 's1');
    registry.add(m, at(1));
    db.set('g1', new Error('connection refused'));
    await registry.recheck();
    expect(errors).toEqual(['g1']);
    expect(m.cuts).toEqual([]);
    await time.advance(MIN);
    expect(m.cuts.map((c) => c.reason)).toEqual(['expired']);
  });

  it('observe() re-arms to the end just read; a terminated session is cut alone', async () => {
    const { time, registry, at } = setup();
    const conn = member('g1');
    const s1 = member('g1', 's1');
    const s2 = member('g1', 's2');
    registry.add(conn, at(1));
    registry.add(s1, at(1));
    registry.add(s2, at(1));
    registry.observe('g1', at(20));
    await time.advance(2 * MIN);
    expect(s1.cuts).toEqual([]);
    registry.apply({ type: 'session.terminate', sessionId: 's2', message: 'terminated by an approver' });
    expect(s2.cuts.map((c) => c.reason)).toEqual(['revoked']);
    expect(s1.cuts).toEqual([]);
    expect(conn.cuts).toEqual([]);
    registry.remove(s2);
    expect(registry.sessionCount).toBe(1);
  });

  it('a re-check of a grant cut meanwhile does not touch it again', async () => {
    let release!: () => void;
    const slow = new LiveRegistry({
      clock: { now: () => new Date() },
      timers: { setTimeout: () => 0, clearTimeout: () => undefined },
      checkGrant: () => new Promise<GrantCheck>((r) => (release = () => r({ ok: true, endsAt: new Date(Date.now() + 90 * MIN) }))),
    });
    const n = member('g1', 's1');
    slow.add(n, new Date(Date.now() + 30 * MIN));
    const pending = slow.recheck();
    slow.apply({ type: 'grant.ended', grantIds: ['g1'], reason: 'revoked', message: 'kill switch' });
    release();
    await pending;
    expect(n.cuts).toHaveLength(1);
    expect(n.notices).toEqual([]);
    expect(slow.has('g1')).toBe(false);
  });
});
