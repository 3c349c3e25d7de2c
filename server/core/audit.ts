/**
 * Reading, verifying and checkpointing the audit log (auditors and admins; checkpoints also the
 * worker). Appending happens inside each entry point's transaction. Every walk checks the hash chain
 * and the signed checkpoints in the log (see audit-checkpoint.ts); nothing is signed over a chain
 * that does not verify.
 */
import { requireOversight } from './scope.js';
import { GENESIS_HASH, createChainVerifier, type ChainVerifier } from './audit-chain.js';
import {
  CHECKPOINT_ACTION, checkpointSignedBy, createAnchorChecker, signCheckpoint,
  type AnchorChecker, type AnchorReport, type AuditCheckpoint,
} from './audit-checkpoint.js';
import { conflict, invalid } from './errors.js';
import type { AuditQuery, AuditRepo, CheckpointKey, CoreDeps } from './ports.js';
import type { Actor, AuditEvent } from './types.js';

export async function listAuditEvents(deps: CoreDeps, actor: Actor, q: AuditQuery): Promise<{ items: AuditEvent[]; nextAfterSeq: number | null }> {
  requireOversight(actor);
  const items = await deps.store.read.audit.list(q);
  return { items, nextAfterSeq: items.length === q.limit ? items[items.length - 1]!.seq : null };
}

export interface VerifyResult {
  ok: boolean;
  count: number;
  headHash: string;
  firstBadSeq?: number;
}

/** `POST /api/audit/verify {checkpoint}`: the chain, the given checkpoint and those in the log. */
export interface CheckpointVerifyResult extends VerifyResult {
  checkpoint: { seq: number; hash: string; holds: boolean };
  /** signed checkpoints found in the log and checked */
  checkpointsChecked: number;
  /** when a checkpoint no longer holds: the highest checkpointed event that still does */
  intactThroughSeq?: number;
  /** what is wrong, in words, when ok is false */
  problem?: string;
}

const PAGE = 1000;

interface Walk {
  chain: ChainVerifier;
  anchors: AnchorChecker;
  lastSeq: number;
}

/** Feeds every event after `walk.lastSeq` into the walk, in pages. */
async function feed(repo: AuditRepo, walk: Walk): Promise<void> {
  for (let more = true; more;) {
    const page = await repo.list({ afterSeq: walk.lastSeq, limit: PAGE });
    for (const e of page) {
      walk.chain.push(e);
      walk.anchors.push(e);
      walk.lastSeq = e.seq;
    }
    more = page.length === PAGE;
  }
}

function verdict(walk: Walk): { result: VerifyResult; anchors: AnchorReport; problem?: string } {
  const anchors = walk.anchors.finish();
  const chainBad = walk.chain.firstBadSeq;
  const firstBadSeq = Math.min(chainBad ?? Infinity, anchors.firstBadSeq ?? Infinity);
  const base = { count: walk.chain.count, headHash: walk.chain.headHash };
  if (firstBadSeq === Infinity) return { result: { ok: true, ...base }, anchors };
  const problem = firstBadSeq === chainBad
    ? `event ${firstBadSeq} does not link to the event before it, or its hash does not match its contents`
    : anchors.problem!;
  return { result: { ok: false, ...base, firstBadSeq }, anchors, problem };
}

async function walkLog(deps: CoreDeps, given?: { seq: number; hash: string }): Promise<Walk> {
  const walk = { chain: createChainVerifier(), anchors: createAnchorChecker(deps.checkpointKey, given), lastSeq: 0 };
  await feed(deps.store.read.audit, walk);
  return walk;
}

function requireKey(deps: CoreDeps): CheckpointKey {
  if (!deps.checkpointKey) throw conflict('this broker has no audit checkpoint key');
  return deps.checkpointKey;
}

/** Walks the whole chain in order; names the first event whose link, hash or signed checkpoint does not hold. */
export async function verifyAuditChain(deps: CoreDeps, actor: Actor): Promise<VerifyResult> {
  requireOversight(actor);
  return verdict(await walkLog(deps)).result;
}

/** A signed checkpoint over the head of the log, once the whole log has verified. */
export async function issueAuditCheckpoint(deps: CoreDeps, actor: Actor): Promise<AuditCheckpoint> {
  requireOversight(actor);
  const key = requireKey(deps);
  const walk = await walkLog(deps);
  const { result, problem } = verdict(walk);
  if (!result.ok) throw conflict(`the audit log does not verify, so no checkpoint is signed: ${problem}`, { firstBadSeq: result.firstBadSeq });
  return signCheckpoint(key, { seq: walk.lastSeq, hash: result.headHash }, deps.clock.now());
}

/**
 * Verifies the log against a checkpoint this broker signed: the chain up to and past it, and that
 * the stored event at its seq still has its hash. A checkpoint whose signature does not verify with
 * the broker's key proves nothing and is refused.
 */
export async function verifyAuditCheckpoint(
  deps: CoreDeps,
  actor: Actor,
  cp: { seq: number; hash: string; signature: string; publicKey?: string },
): Promise<CheckpointVerifyResult> {
  requireOversight(actor);
  const key = requireKey(deps);
  if (cp.publicKey !== undefined && cp.publicKey !== key.publicKey) throw invalid('the checkpoint was signed with another key than this broker\'s audit checkpoint key');
  if (!checkpointSignedBy(key, cp)) throw invalid('the checkpoint\'s signature does not verify with this broker\'s audit checkpoint key');
  const { result, anchors, problem } = verdict(await walkLog(deps, cp));
  return {
    ...result,
    checkpoint: anchors.given!,
    checkpointsChecked: anchors.checkpointsChecked,
    ...(anchors.intactThroughSeq !== undefined && !result.ok ? { intactThroughSeq: anchors.intactThroughSeq } : {}),
    ...(problem ? { problem } : {}),
  };
}

export type CheckpointOutcome =
  | { ok: true; checkpoint: AuditCheckpoint }
  | { ok: false; firstBadSeq: number; problem: string };

const checkpointer = { actorType: 'system', actorId: 'audit-checkpoint' } as const;

/** The stored event at `seq` still has `hash` (seq 0: the empty log's genesis). */
async function anchorHolds(repo: AuditRepo, a: { seq: number; hash: string }): Promise<{ holds: boolean; missing: boolean }> {
  if (a.seq === 0) return { holds: a.hash === GENESIS_HASH, missing: false };
  const [stored] = await repo.list({ afterSeq: a.seq - 1, limit: 1 });
  if (!stored || stored.seq !== a.seq) return { holds: false, missing: true };
  return { holds: stored.hash === a.hash, missing: false };
}

/**
 * The periodic checkpoint: verifies the log, then appends a signed `audit.checkpoint` event over the
 * event before it. `previous` is the last checkpoint kept outside the database (used when this key
 * signed it); `since` is the last checkpoint this process verified and signed: when it still holds,
 * only what follows it is walked again. A log that does not verify gets an
 * `audit.verification_failed` event instead of a checkpoint.
 */
export async function writeAuditCheckpoint(
  deps: CoreDeps,
  opts: { previous?: AuditCheckpoint; since?: { seq: number; hash: string } } = {},
): Promise<CheckpointOutcome> {
  const key = requireKey(deps);
  const read = deps.store.read.audit;
  let broken: { firstBadSeq: number; problem: string } | undefined;
  const anchors = [opts.since, opts.previous && checkpointSignedBy(key, opts.previous) ? opts.previous : undefined];
  for (const a of anchors) {
    if (!a || (broken && broken.firstBadSeq <= a.seq)) continue;
    const { holds, missing } = await anchorHolds(read, a);
    if (holds) continue;
    broken = {
      firstBadSeq: a.seq,
      problem: missing ? `event ${a.seq}, which a signed checkpoint names, is gone: events were removed`
        : `event ${a.seq} no longer has the hash a signed checkpoint gave it: the log was rewritten at or before it`,
    };
  }
  const from = opts.since && !broken ? opts.since : undefined;
  const walk: Walk = { chain: createChainVerifier(from), anchors: createAnchorChecker(key, undefined, from), lastSeq: from?.seq ?? 0 };
  await feed(read, walk);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    // appends wait from here to commit; the events written since the walk are checked too
    const head = await tx.audit.head({ lock: true });
    await feed(tx.audit, walk);
    const { result, problem } = verdict(walk);
    const bad = !result.ok && (!broken || result.firstBadSeq! < broken.firstBadSeq) ? { firstBadSeq: result.firstBadSeq!, problem: problem! } : broken;
    if (bad) {
      await tx.audit.append(
        { ...checkpointer, action: 'audit.verification_failed', subjectType: 'audit_event', subjectId: String(bad.firstBadSeq), details: { ...bad } },
        now,
      );
      return { ok: false, ...bad };
    }
    const checkpoint = signCheckpoint(key, head ?? { seq: 0, hash: GENESIS_HASH }, now);
    await tx.audit.append(
      { ...checkpointer, action: CHECKPOINT_ACTION, subjectType: 'audit_event', subjectId: String(checkpoint.seq), details: { ...checkpoint } },
      now,
    );
    return { ok: true, checkpoint };
  });
}
