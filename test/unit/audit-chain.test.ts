import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  GENESIS_HASH,
  auditHashParts,
  canonicalJson,
  createChainVerifier,
  hashAuditEvent,
  nextAuditEvent,
} from '../../server/core/audit-chain.js';
import type { AuditEvent, AuditEventInput } from '../../server/core/types.js';

const t0 = new Date('2030-01-01T00:00:00.000Z');

function input(i: number, details: Record<string, unknown> = { i }): AuditEventInput {
  return { actorType: 'user', actorId: `u-${i}`, action: 'device.updated', subjectType: 'device', subjectId: `d-${i}`, details };
}

/** A valid chain of n events, built link by link. */
function chain(n: number): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let i = 0; i < n; i++) out.push(nextAuditEvent(out[i - 1] ?? null, input(i), new Date(t0.getTime() + i * 1000)));
  return out;
}

function verify(events: AuditEvent[]) {
  const v = createChainVerifier();
  for (const e of events) v.push(e);
  return v;
}

describe('canonicalJson', () => {
  it('does not depend on key order, at any depth', () => {
    const a = { b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' } };
    const b = { a: { c: 'x', d: [1, { x: 1, y: 2 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[1,{"x":1,"y":2}]},"b":1}');
  });

  it('keeps array order, drops undefined members like JSON, and writes dates as ISO strings', () => {
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
    expect(canonicalJson({ a: undefined, b: null })).toBe('{"b":null}');
    expect(canonicalJson([undefined])).toBe('[null]');
    expect(canonicalJson({ at: t0 })).toBe(`{"at":"${t0.toISOString()}"}`);
  });

  it('is what a JSONB round trip gives back (so stored rows still hash the same)', () => {
    const v = { z: 1, a: { nested: true, list: ['x', { k: 1 }] }, s: 'ü "quoted"' };
    expect(canonicalJson(JSON.parse(JSON.stringify(v)))).toBe(canonicalJson(v));
  });
});

describe('hashAuditEvent', () => {
  const base = { ...input(1, { a: 1, b: 'two' }), seq: 7, at: t0, prevHash: 'a'.repeat(64) };

  it('is a SHA-256 hex digest, stable for the same event', () => {
    expect(hashAuditEvent(base)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashAuditEvent({ ...base, details: { b: 'two', a: 1 } })).toBe(hashAuditEvent(base));
  });

  const changes: [string, Partial<typeof base>][] = [
    ['seq', { seq: 8 }],
    ['at', { at: new Date(t0.getTime() + 1) }],
    ['actorType', { actorType: 'system' }],
    ['actorId', { actorId: 'someone-else' }],
    ['actorId null', { actorId: null }],
    ['action', { action: 'device.retired' }],
    ['subjectType', { subjectType: 'user' }],
    ['subjectId', { subjectId: 'd-2' }],
    ['details value', { details: { a: 2, b: 'two' } }],
    ['details extra key', { details: { a: 1, b: 'two', c: null } }],
    ['prevHash', { prevHash: 'b'.repeat(64) }],
  ];
  it.each(changes)('changes when %s changes', (_name, change) => {
    expect(hashAuditEvent({ ...base, ...change })).not.toBe(hashAuditEvent(base));
  });

  it('covers the previous hash, so each link commits to the whole history', () => {
    const [first, second] = chain(2);
    expect(second!.prevHash).toBe(first!.hash);
    const relinked = { ...second!, prevHash: createHash('sha256').update('forged').digest('hex') };
    expect(hashAuditEvent(relinked)).not.toBe(second!.hash);
  });
});

describe('nextAuditEvent', () => {
  it('starts at seq 1 on the genesis hash and counts up', () => {
    const [a, b, c] = chain(3);
    expect(a).toMatchObject({ seq: 1, prevHash: GENESIS_HASH });
    expect(b).toMatchObject({ seq: 2, prevHash: a!.hash });
    expect(c).toMatchObject({ seq: 3, prevHash: b!.hash });
    expect(new Set([a!.hash, b!.hash, c!.hash]).size).toBe(3);
  });

  it('hashes what JSONB will store: a Date in details becomes its ISO string', () => {
    const e = nextAuditEvent(null, input(1, { when: t0, gone: undefined }), t0);
    expect(e.details).toEqual({ when: t0.toISOString() });
    const fromDb = { ...e, details: JSON.parse(JSON.stringify({ when: t0.toISOString() })) };
    expect(hashAuditEvent(fromDb)).toBe(e.hash);
  });
});

describe('createChainVerifier', () => {
  it('accepts an intact chain and reports its count and head', () => {
    const events = chain(5);
    const v = verify(events);
    expect(v.firstBadSeq).toBeUndefined();
    expect(v.count).toBe(5);
    expect(v.headHash).toBe(events[4]!.hash);
  });

  it('an empty chain is intact, headed by the genesis hash', () => {
    const v = createChainVerifier();
    expect(v).toMatchObject({ count: 0, headHash: GENESIS_HASH, firstBadSeq: undefined });
  });

  it('finds an event whose content was changed but whose hash was kept', () => {
    const events = chain(6);
    events[2] = { ...events[2]!, details: { i: 999 } };
    const v = verify(events);
    expect(v.firstBadSeq).toBe(3);
    expect(v.count).toBe(6);
  });

  it('finds the next link when the changed event was re-hashed to hide it', () => {
    const events = chain(6);
    const forged = { ...events[2]!, details: { i: 999 } };
    events[2] = { ...forged, hash: hashAuditEvent(forged) };
    expect(verify(events).firstBadSeq).toBe(4);
  });

  it('reports the first bad seq, not a later one', () => {
    const events = chain(8);
    events[5] = { ...events[5]!, action: 'device.retired' };
    events[1] = { ...events[1]!, actorId: 'intruder' };
    expect(verify(events).firstBadSeq).toBe(2);
  });

  it('detects a gap left by a removed event', () => {
    const events = chain(6);
    events.splice(3, 1); // seq 4 removed
    expect(verify(events).firstBadSeq).toBe(5);
  });

  it('detects a chain that does not start at seq 1 on the genesis hash', () => {
    expect(verify(chain(4).slice(1)).firstBadSeq).toBe(2);
  });

  it('detects swapped events', () => {
    const events = chain(5);
    [events[1], events[2]] = [events[2]!, events[1]!];
    expect(verify(events).firstBadSeq).toBe(3);
  });

  it('push returns false from the first bad event on', () => {
    const events = chain(4);
    events[1] = { ...events[1]!, hash: 'f'.repeat(64) };
    const v = createChainVerifier();
    expect(events.map((e) => v.push(e))).toEqual([true, false, false, false]);
  });
});

describe('auditHashParts (the database completes and hashes the text, migration 037)', () => {
  const awkward: AuditEventInput[] = [
    { actorType: 'user', actorId: 'u1', action: 'grant.revoked', subjectType: 'grant', subjectId: 'g1', details: { reason: 'pump "B" \\ alarm', n: 1.5, list: [null, true, { z: 1, a: 'ü€😀' }] } },
    { actorType: 'system', actorId: null, action: 'system.started', subjectType: null, subjectId: null, details: {} },
    { actorType: 'anonymous', actorId: null, action: 'auth.login_failed', subjectType: 'user', subjectId: 'x', details: { text: 'a\u0000b\nc\ud800', undef: undefined } },
  ];
  it.each(awkward.map((e, i) => [i, e] as const))('head + prevHash + seq + tail hashes to hashAuditEvent (%i)', (_i, input) => {
    const at = new Date('2026-11-30T12:34:56.789Z');
    const prevHash = 'ab'.repeat(32);
    const { head, tail, details } = auditHashParts(input, at);
    const text = `${head}${prevHash}","seq":${41}${tail}`;
    expect(createHash('sha256').update(text).digest('hex')).toBe(hashAuditEvent({ ...input, details, seq: 41, at, prevHash }));
    expect(nextAuditEvent({ seq: 40, hash: prevHash }, input, at).hash).toBe(createHash('sha256').update(text).digest('hex'));
  });
});
