import { credentialReport, deviceCaSetup } from '../../core/credential-report.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';

export const credentialRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/device-ca', tag: 'devices',
    summary: 'The device-access CA: its public key and the sshd_config line (TrustedUserCAKeys) a certificate device needs (admin)',
    handler: ({ actor }) => deviceCaSetup(deps, actor),
  }),
  route({
    method: 'get', path: '/api/reports/credentials', tag: 'devices',
    summary: 'Devices whose credential is a static secret, a rotated key past CREDENTIAL_MAX_AGE_DAYS, or whose rotation failed (admin, auditor)',
    handler: ({ actor }) => credentialReport(deps, actor),
  }),
];
