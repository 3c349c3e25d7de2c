import { z } from 'zod';
import { issueAuditCheckpoint, listAuditEvents, verifyAuditChain, verifyAuditCheckpoint } from '../../core/audit.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { auditQuery } from '../schemas.js';

const base64 = z.string().max(200).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64');

/** A checkpoint as `GET /api/audit/checkpoint` gave it; `signedAt` is informative, `publicKey` is compared. */
const verifyBody = z.strictObject({
  checkpoint: z.object({
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    hash: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
    signature: base64,
    publicKey: base64.optional(),
    signedAt: z.string().max(100).optional(),
  }),
});

export const auditRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/audit', tag: 'audit', query: auditQuery,
    summary: 'Page through audit events in sequence order (auditor, admin); pass nextAfterSeq as afterSeq',
    handler: ({ actor, query }) => listAuditEvents(deps, actor, query),
  }),
  route({
    method: 'get', path: '/api/audit/verify', tag: 'audit',
    summary: 'Walk the hash chain and the signed checkpoints in it: {ok, count, headHash, firstBadSeq?} (auditor, admin)',
    handler: ({ actor }) => verifyAuditChain(deps, actor),
  }),
  route({
    method: 'get', path: '/api/audit/checkpoint', tag: 'audit',
    summary: 'A signed checkpoint of the verified log head: {seq, hash, signedAt, signature, publicKey}; Ed25519 over the ASCII bytes ' +
      '"portcullis.audit.checkpoint.v1:<seq>:<hash>"; 409 when the log does not verify (auditor, admin)',
    handler: ({ actor }) => issueAuditCheckpoint(deps, actor),
  }),
  route({
    method: 'post', path: '/api/audit/verify', tag: 'audit', body: verifyBody,
    summary: 'Verify the log against a checkpoint taken earlier: the chain, and that the event at its seq still has its hash; ' +
      'a checkpoint not signed by this broker is refused with 400 (auditor, admin)',
    handler: ({ actor, body }) => verifyAuditCheckpoint(deps, actor, body.checkpoint),
  }),
];
