/**
 * Signed audit checkpoints (pure). The hash chain alone has no key: whoever can write the database
 * can edit an event and recompute every later hash. A checkpoint is the broker's Ed25519 signature
 * over one (seq, hash) of the chain; someone without the key cannot make one, so a rewrite of any
 * event at or before a checkpoint's seq shows as "the event at seq no longer has that hash".
 *
 * Signed message (exact bytes): the ASCII string `portcullis.audit.checkpoint.v1:<seq>:<hash>` —
 * seq in decimal without leading zeros (0 for an empty log), hash as 64 lowercase hex digits (the
 * genesis hash, 64 zeros, for seq 0), no trailing newline. `signedAt` is not signed: it says when
 * the broker signed, not what. Periodic checkpoints are also appended to the log itself as
 * `audit.checkpoint` events anchoring the event just before them; every walk of the chain checks
 * those signed by the broker's current key.
 */
import { GENESIS_HASH } from './audit-chain.js';
import type { CheckpointKey } from './ports.js';
import type { AuditEvent } from './types.js';

export const CHECKPOINT_ACTION = 'audit.checkpoint';
const CONTEXT = 'portcullis.audit.checkpoint.v1';
const HASH = /^[0-9a-f]{64}$/;

/** What `GET /api/audit/checkpoint` answers and `POST /api/audit/verify` takes back. */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  signedAt: string;
  /** base64 Ed25519 signature over `checkpointMessage(seq, hash)` */
  signature: string;
  /** base64 of the signing key's 32 raw bytes */
  publicKey: string;
}

/** The exact bytes a checkpoint signs (see the header). */
export function checkpointMessage(seq: number, hash: string): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 0 || !HASH.test(hash)) throw new Error('a checkpoint names a seq >= 0 and a 64-hex hash');
  return Buffer.from(`${CONTEXT}:${seq}:${hash}`, 'ascii');
}

export function signCheckpoint(key: CheckpointKey, head: { seq: number; hash: string }, at: Date): AuditCheckpoint {
  return { seq: head.seq, hash: head.hash, signedAt: at.toISOString(), signature: key.sign(checkpointMessage(head.seq, head.hash)), publicKey: key.publicKey };
}

/** True when `cp` was signed by `key` (its own `publicKey` claim is not trusted, only compared). */
export function checkpointSignedBy(key: CheckpointKey, cp: Pick<AuditCheckpoint, 'seq' | 'hash' | 'signature'> & { publicKey?: string }): boolean {
  if (cp.publicKey !== undefined && cp.publicKey !== key.publicKey) return false;
  if (!Number.isSafeInteger(cp.seq) || cp.seq < 0 || typeof cp.hash !== 'string' || !HASH.test(cp.hash) || typeof cp.signature !== 'string') return false;
  return key.verify(checkpointMessage(cp.seq, cp.hash), cp.signature);
}

export interface AnchorReport {
  /** signed checkpoints found in the log and checked (key rotated away: not counted) */
  checkpointsChecked: number;
  /** the lowest seq a signed checkpoint vouches for that no longer holds (or the first missing one) */
  firstBadSeq?: number;
  /** the highest checkpointed seq below firstBadSeq that still holds: the rewrite lies after it */
  intactThroughSeq?: number;
  /** the given checkpoint: does the stored event at its seq still have its hash */
  given?: { seq: number; hash: string; holds: boolean };
  problem?: string;
}

export interface AnchorChecker {
  /** feed every event in seq order */
  push(e: AuditEvent): void;
  finish(): AnchorReport;
}

/**
 * Checks signed checkpoints against the stored chain while it is walked: `given` (already known to
 * carry a valid signature) and every in-log `audit.checkpoint` event signed by `key`. A walk that
 * starts after `from` (an event already verified) sees only what follows it; `given` must not be
 * older than `from`.
 */
export function createAnchorChecker(
  key: CheckpointKey | undefined,
  given?: { seq: number; hash: string },
  from: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH },
): AnchorChecker {
  const good: number[] = [];
  const bad: number[] = [];
  let checked = 0;
  let prev = from;
  let givenStored: string | undefined = given?.seq === from.seq ? from.hash : undefined;
  return {
    push(e) {
      if (given && e.seq === given.seq) givenStored = e.hash;
      if (key && e.action === CHECKPOINT_ACTION) {
        const d = e.details as Partial<AuditCheckpoint>;
        if (typeof d.seq === 'number' && typeof d.hash === 'string' && typeof d.signature === 'string' &&
          d.publicKey === key.publicKey && checkpointSignedBy(key, d as AuditCheckpoint)) {
          checked++;
          // written under the append lock: it anchors exactly the event before it
          (prev.seq === d.seq && prev.hash === d.hash ? good : bad).push(d.seq);
        }
      }
      prev = { seq: e.seq, hash: e.hash };
    },
    finish() {
      const report: AnchorReport = { checkpointsChecked: checked };
      let missing = false;
      if (given) {
        const holds = givenStored === given.hash;
        report.given = { seq: given.seq, hash: given.hash, holds };
        if (holds) good.push(given.seq);
        else if (givenStored === undefined) {
          missing = true;
          bad.push(prev.seq + 1);
        } else bad.push(given.seq);
      }
      if (bad.length === 0) return report;
      const first = Math.min(...bad);
      const intact = Math.max(-1, ...good.filter((s) => s < first));
      report.firstBadSeq = first;
      if (intact >= 0) report.intactThroughSeq = intact;
      // in-log anchors all name pushed events, so a missing given seq is first only when nothing else is bad
      report.problem = missing && first === prev.seq + 1
        ? `the log ends at event ${prev.seq}, before the checkpoint's event ${given!.seq}: events were removed`
        : `event ${first} no longer has the hash a signed checkpoint gave it: the log was rewritten at or before it` +
          (intact >= 0 ? `, after event ${intact}` : '');
      return report;
    },
  };
}
