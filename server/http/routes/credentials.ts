import { credentialReport, deviceCaSetup } from '../../core/credential-report.js';
import { hostKeyStatus, listHostKeyChanges, repinHostKey } from '../../core/host-key-changes.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { idParams, repinHostKeyBody } from '../schemas.js';

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
  route({
    method: 'get', path: '/api/host-key-changes', tag: 'devices',
    summary: 'Pending host key changes: devices that presented another host key than their pin (admin, auditor, the devices\' approvers)',
    handler: ({ actor }) => listHostKeyChanges(deps, actor),
  }),
  route({
    method: 'get', path: '/api/devices/:id/host-key', tag: 'devices', params: idParams,
    summary: 'The device\'s pinned host key and the key it presented instead, if any (admin, auditor, the device\'s approvers)',
    handler: ({ actor, params }) => hostKeyStatus(deps, actor, params.id),
  }),
  route({
    method: 'post', path: '/api/devices/:id/host-key/repin', tag: 'devices', params: idParams, body: repinHostKeyBody,
    summary: 'Pin the key the device presented instead; the fingerprint must be the pending key\'s (admin, the device\'s approvers)',
    handler: ({ actor, params, body }) => repinHostKey(deps, actor, params.id, body),
  }),
];
