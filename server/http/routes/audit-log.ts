import { z } from 'zod';
import { listAuditLog } from '../../core/audit-log-view.js';
import { listSiemSinks } from '../../core/siem-sinks.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { uuid } from '../schemas.js';

const auditLogQuery = z.strictObject({
  afterSeq: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  deviceId: uuid.optional(),
  vendorId: uuid.optional(),
  technicianId: uuid.optional(),
  family: z.string().regex(/^[a-z_]+(\.[a-z_]+)*$/, 'an action or action family, e.g. session or grant.revoked').optional(),
});

export const auditLogRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/audit/log', tag: 'audit', query: auditLogQuery,
    summary: 'The audit log for people: actors and subjects by name, the device, technician and vendor concerned, a link to the request, session or device; filters by device, vendor, technician and action family (auditor, admin)',
    handler: async ({ actor, query }) => listAuditLog(deps, actor, query),
  }),
  route({
    method: 'get', path: '/api/siem/sinks', tag: 'audit',
    summary: 'SIEM delivery per sink: last delivered event, lag behind the audit log, failures and the last error (auditor, admin)',
    handler: async ({ actor }) => listSiemSinks(deps, actor),
  }),
];
