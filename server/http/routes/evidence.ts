import { z } from 'zod';
import { grantEvidence } from '../../core/evidence.js';
import { renderEvidenceHtml } from '../../core/evidence-html.js';
import { typedLinesOf } from '../../jobs/recording-tail.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { idParams } from '../schemas.js';

const evidenceQuery = z.object({ format: z.enum(['json', 'html']).default('json') });

export const evidenceRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/grants/:id/evidence', tag: 'grants', params: idParams, query: evidenceQuery,
    summary: 'The signed evidence bundle of a grant (JSON, JWS with detached payload; ?format=html: the printable maintenance record) (auditor, admin; approvers of the device)',
    async handler({ actor, params, query, res }) {
      const evidence = await grantEvidence(deps, actor, params.id, typedLinesOf);
      if (query.format === 'html') {
        res.status(200).type('html').send(renderEvidenceHtml(evidence));
        return undefined;
      }
      res.setHeader('content-disposition', `attachment; filename="evidence-${params.id}.json"`);
      return evidence;
    },
  }),
];
