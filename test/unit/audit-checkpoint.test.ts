import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, createChainVerifier, nextAuditEvent } from '../../server/core/audit-chain.js';
import { CHECKPOINT_ACTION, checkpointMessage, checkpointSignedBy, createAnchorChecker, signCheckpoint } from '../../server/core/audit-checkpoint.js';
import type { AuditEvent } from '../../server/core/types.js';
import { createCheckpointKey } from '../../server/crypto/checkpoint-key.js';

const key = createCheckpointKey(generateKeyPairSync('ed25519').privateKey);
const other = createCheckpointKey(generateKeyPairSync('ed25519').privateKey);
const at = new Date('2031-03-03T09:00:00Z');

/** A chain of `n` events; a checkpoint event (signed by `signer`) after each seq in `anchorAfter`. */
function chain(n: number, anchorAfter: number[] = [], signer = key): AuditEvent[] {
  const out: AuditEvent[] = [];
  while (out.length < n) {
    const prev = out[out.length - 1] ?? null;
    const input = prev && anchorAfter.includes(prev.seq)
      ? { actorType: 'system' as const, actorId: 'audit-checkpoint', action: CHECKPOINT_ACTION, subjectType: 'audit_event', subjectId: String(prev.seq),
        details: { ...signCheckpoint(signer, prev, at) } }
      : { actorType: 'system' as const, actorId: 't', action: 'test.event', subjectType: null, subjectId: null, details: { i: out.length } };
    out.push(nextAuditEvent(prev, input, at));
  }
  return out;
}

/** The same chain with event `seq` edited and every later link recomputed. */
function rewritten(events: AuditEvent[], seq: number): AuditEvent[] {
  const out: AuditEvent[] = events.slice(0, seq - 1);
  for (const e of events.slice(seq - 1)) {
    const { seq: _s, at: eAt, prevHash: _p, hash: _h, ...input } = e;
    out.push(nextAuditEvent(out[out.length - 1] ?? null, e.seq === seq ? { ...input, details: { forged: true } } : input, eAt));
  }
  return out;
}

function anchors(events: AuditEvent[], given?: { seq: number; hash: string }) {
  const a = createAnchorChecker(key, given);
  events.forEach((e) => a.push(e));
  return a.finish();
}

describe('checkpoint signatures', () => {
  it('sign exactly the documented bytes', () => {
    expect(checkpointMessage(42, 'ab'.repeat(32)).toString('ascii')).toBe(`portcullis.audit.checkpoint.v1:42:${'ab'.repeat(32)}`);
    expect(() => checkpointMessage(-1, GENESIS_HASH)).toThrow();
    expect(() => checkpointMessage(1, 'AB'.repeat(32))).toThrow();
  });

  it('verify only for the key, seq and hash signed, in canonical base64', () => {
    const cp = signCheckpoint(key, { seq: 7, hash: 'cd'.repeat(32) }, at);
    expect(cp).toMatchObject({ seq: 7, signedAt: at.toISOString(), publicKey: key.publicKey });
    expect(Buffer.from(cp.publicKey, 'base64')).toHaveLength(32);
    expect(checkpointSignedBy(key, cp)).toBe(true);
    expect(checkpointSignedBy(key, { ...cp, signedAt: 'any time' } as typeof cp)).toBe(true);
    expect(checkpointSignedBy(key, { ...cp, seq: 8 })).toBe(false);
    expect(checkpointSignedBy(key, { ...cp, hash: 'ce'.repeat(32) })).toBe(false);
    expect(checkpointSignedBy(other, cp)).toBe(false);
    expect(checkpointSignedBy(key, { ...cp, publicKey: other.publicKey })).toBe(false);
    expect(checkpointSignedBy(key, { ...cp, signature: cp.signature.replace(/=+$/, '') })).toBe(false);
    expect(checkpointSignedBy(key, { ...cp, signature: 'garbage' })).toBe(false);
  });
});

describe('anchors while walking the chain', () => {
  it('a given checkpoint holds on an untouched chain, and at seq 0 on any', () => {
    const events = chain(6);
    expect(anchors(events, events[3]!)).toEqual({ checkpointsChecked: 0, given: { seq: 4, hash: events[3]!.hash, holds: true } });
    expect(anchors(events, { seq: 0, hash: GENESIS_HASH }).firstBadSeq).toBeUndefined();
  });

  it('a rewrite recomputed to the end breaks the given checkpoint at its seq, after the last in-log one that holds', () => {
    const events = chain(12, [3]);
    const forged = rewritten(events, 8);
    const v = createChainVerifier();
    forged.forEach((e) => v.push(e));
    expect(v.firstBadSeq).toBeUndefined(); // the bare chain cannot tell
    expect(anchors(forged, events[9]!)).toMatchObject({ checkpointsChecked: 1, firstBadSeq: 10, intactThroughSeq: 3, given: { holds: false } });
  });

  it('an in-log checkpoint after the rewrite catches it on its own; one by another key is not counted', () => {
    expect(anchors(rewritten(chain(12, [3, 9]), 5))).toMatchObject({ checkpointsChecked: 2, firstBadSeq: 9, intactThroughSeq: 3 });
    expect(anchors(rewritten(chain(12, [9], other), 5))).toEqual({ checkpointsChecked: 0 });
  });

  it('a checkpoint beyond the end of the log: events were removed', () => {
    const events = chain(8);
    const r = anchors(events.slice(0, 5), events[6]!);
    expect(r).toMatchObject({ firstBadSeq: 6, given: { holds: false } });
    expect(r.problem).toMatch(/events were removed/);
  });

  it('a walk can start after a verified event', () => {
    const events = chain(10, [6]);
    const from = events[4]!;
    const v = createChainVerifier(from);
    const a = createAnchorChecker(key, undefined, from);
    for (const e of events.slice(5)) {
      v.push(e);
      a.push(e);
    }
    expect([v.firstBadSeq, v.count, v.headHash]).toEqual([undefined, 5, events[9]!.hash]);
    expect(a.finish()).toEqual({ checkpointsChecked: 1 });
    const broken = createChainVerifier({ seq: 4, hash: events[3]!.hash });
    broken.push(events[5]!);
    expect(broken.firstBadSeq).toBe(6);
  });
});
