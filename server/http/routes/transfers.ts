import { listTransfers } from '../../core/transfers.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { listTransfersQuery } from '../schemas.js';

export const transferRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/transfers', tag: 'sessions', query: listTransfersQuery,
    summary: 'Files moved through the SFTP relay, newest first, by device, session or SHA-256 (auditor, admin; approvers their department; technicians their own)',
    handler: async ({ actor, query }) => ({ items: await listTransfers(deps, actor, query) }),
  }),
];
