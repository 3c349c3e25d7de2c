import { z } from 'zod';
import { searchSessions } from '../../core/search.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { uuid } from '../schemas.js';

const searchQuery = z.strictObject({
  q: z.string().trim().min(1).max(500),
  deviceId: uuid.optional(),
  vendorId: uuid.optional(),
  technicianId: uuid.optional(),
  from: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  to: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const searchRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/search', tag: 'sessions', query: searchQuery,
    summary: 'Full-text search of what sessions showed and technicians typed, and transfer paths: ranked hits with snippets (auditor, admin)',
    handler: async ({ actor, query }) => ({ items: await searchSessions(deps, actor, query) }),
  }),
];
