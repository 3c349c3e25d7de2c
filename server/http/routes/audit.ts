import { listAuditEvents, verifyAuditChain } from '../../core/audit.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { auditQuery } from '../schemas.js';

export const auditRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/audit', tag: 'audit', query: auditQuery,
    summary: 'Page through audit events in sequence order (auditor, admin); pass nextAfterSeq as afterSeq',
    handler: ({ actor, query }) => listAuditEvents(deps, actor, query),
  }),
  route({
    method: 'get', path: '/api/audit/verify', tag: 'audit',
    summary: 'Walk the hash chain: {ok, count, headHash, firstBadSeq?} (auditor, admin)',
    handler: ({ actor }) => verifyAuditChain(deps, actor),
  }),
];
