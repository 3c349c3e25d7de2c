/**
 * The audit log's hash chain (pure).
 * Invariants: hash = SHA-256(canonical(event fields + prev_hash)); the first event's prev_hash is
 * GENESIS; sequence numbers are contiguous from 1. Canonical encoding sorts object keys recursively
 * so the hash survives a JSONB round trip.
 */
import { createHash } from 'node:crypto';
import type { AuditEvent, AuditEventInput } from './types.js';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every depth; undefined members dropped as JSON does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function hashAuditEvent(e: AuditEventInput & { seq: number; at: Date; prevHash: string }): string {
  const body = canonicalJson({
    seq: e.seq,
    at: e.at.toISOString(),
    actorType: e.actorType,
    actorId: e.actorId,
    action: e.action,
    subjectType: e.subjectType,
    subjectId: e.subjectId,
    details: e.details,
    prevHash: e.prevHash,
  });
  return createHash('sha256').update(body).digest('hex');
}

/**
 * The canonical text `hashAuditEvent` hashes, split around the two values only known under the chain's
 * lock: text = head + prevHash + '","seq":' + seq + tail. canonicalJson sorts the keys (action, actorId,
 * actorType, at, details < prevHash < seq < subjectId, subjectType), so the split is fixed; the database
 * completes and hashes it (migrations/037_audit_append_function.sql). `details` as JSONB gives it back.
 */
export function auditHashParts(input: AuditEventInput, at: Date): { head: string; tail: string; details: Record<string, unknown> } {
  const details = JSON.parse(JSON.stringify(input.details ?? {})) as Record<string, unknown>;
  const before = canonicalJson({ action: input.action, actorId: input.actorId, actorType: input.actorType, at: at.toISOString(), details });
  const after = canonicalJson({ subjectId: input.subjectId, subjectType: input.subjectType });
  return { head: `${before.slice(0, -1)},"prevHash":"`, tail: after === '{}' ? '}' : `,${after.slice(1)}`, details };
}

/** Builds the next link of the chain after `prev` (or the first link when prev is null). */
export function nextAuditEvent(
  prev: { seq: number; hash: string } | null,
  input: AuditEventInput,
  at: Date,
): AuditEvent {
  const seq = prev ? prev.seq + 1 : 1;
  const prevHash = prev ? prev.hash : GENESIS_HASH;
  // JSON round trip: what is hashed is exactly what JSONB stores and gives back
  const details = JSON.parse(JSON.stringify(input.details ?? {})) as Record<string, unknown>;
  const event = { ...input, details, seq, at, prevHash };
  return { ...event, hash: hashAuditEvent(event) };
}

export interface ChainVerifier {
  push(e: AuditEvent): boolean;
  readonly count: number;
  readonly headHash: string;
  readonly firstBadSeq: number | undefined;
}

/**
 * Incremental verifier: feed events in seq order; it remembers the first broken link. `from` starts
 * it after an event already verified (the next one must link to it); `count` counts what was fed.
 */
export function createChainVerifier(from?: { seq: number; hash: string }): ChainVerifier {
  let expectedSeq = from ? from.seq + 1 : 1;
  let prevHash = from ? from.hash : GENESIS_HASH;
  let count = 0;
  let firstBadSeq: number | undefined;
  return {
    push(e) {
      count++;
      if (firstBadSeq !== undefined) return false;
      const ok = e.seq === expectedSeq && e.prevHash === prevHash && hashAuditEvent(e) === e.hash;
      if (!ok) firstBadSeq = e.seq;
      expectedSeq = e.seq + 1;
      prevHash = e.hash;
      return ok;
    },
    get count() {
      return count;
    },
    get headHash() {
      return prevHash;
    },
    get firstBadSeq() {
      return firstBadSeq;
    },
  };
}
