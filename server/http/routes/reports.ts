import { z } from 'zod';
import { unusedAccountsCsv, unusedVendorAccounts, vendorAccessCsv, vendorAccessReport } from '../../core/reports.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';

const format = z.enum(['json', 'csv']).default('json');
const vendorAccessQuery = z.strictObject({ month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'YYYY-MM'), format });
const unusedQuery = z.strictObject({ days: z.coerce.number().int().min(1).max(3650).default(90), format });

export const reportRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/reports/vendor-access', tag: 'audit', query: vendorAccessQuery,
    summary: 'Monthly vendor access report: per vendor and device, sessions, time spent, approvals, break-glass, transfers (?format=csv) (auditor, admin)',
    async handler({ actor, query, res }) {
      const report = await vendorAccessReport(deps, actor, query.month);
      if (query.format === 'json') return report;
      res.status(200).type('text/csv').setHeader('content-disposition', `attachment; filename="vendor-access-${query.month}.csv"`);
      res.send(vendorAccessCsv(report.rows));
      return undefined;
    },
  }),
  route({
    method: 'get', path: '/api/reports/unused-vendor-accounts', tag: 'audit', query: unusedQuery,
    summary: 'Enabled technician accounts with no login and no session for `days` (default 90) (?format=csv) (auditor, admin)',
    async handler({ actor, query, res }) {
      const report = await unusedVendorAccounts(deps, actor, query.days);
      if (query.format === 'json') return report;
      res.status(200).type('text/csv').setHeader('content-disposition', 'attachment; filename="unused-vendor-accounts.csv"');
      res.send(unusedAccountsCsv(report.items));
      return undefined;
    },
  }),
];
