import { recordFirmware } from '../../core/firmware.js';
import { getGrant, listGrants, revokeGrant } from '../../core/grants.js';
import { requestExtension } from '../../core/requests.js';
import { issueSshCertificate, sshKnownHosts } from '../../core/ssh-certificates.js';
import { issueTerminalToken } from '../../core/terminal-tokens.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { certificateBody, extendBody, firmwareBody, idParams, listGrantsQuery, revokeBody } from '../schemas.js';

export const grantRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/grants', tag: 'access', query: listGrantsQuery,
    summary: 'Grants the caller may see',
    handler: async ({ actor, query }) => ({ items: await listGrants(deps, actor, query) }),
  }),
  route({
    method: 'get', path: '/api/grants/:id', tag: 'access', params: idParams,
    summary: 'One grant',
    handler: ({ actor, params }) => getGrant(deps, actor, params.id),
  }),
  route({
    method: 'post', path: '/api/grants/:id/revoke', tag: 'access', params: idParams, body: revokeBody,
    summary: 'Kill switch: end a grant now and cut its live sessions (approver of the department, admin)',
    handler: ({ actor, params, body }) => revokeGrant(deps, actor, params.id, body.reason),
  }),
  route({
    method: 'post', path: '/api/grants/:id/extend', tag: 'access', status: 201, params: idParams, body: extendBody,
    summary: 'Ask to extend your active grant; creates an extension request that needs a fresh approval',
    handler: ({ actor, params, body }) => requestExtension(deps, actor, params.id, body),
  }),
  route({
    method: 'post', path: '/api/grants/:id/firmware', tag: 'access', params: idParams, body: firmwareBody,
    summary: "Record the firmware version the grant installed on the device's trust record, audited with the uploads that delivered it (the grant's technician, approver of the department, admin; while active or up to 7 days after)",
    handler: ({ actor, params, body }) => recordFirmware(deps, actor, params.id, body),
  }),
  route({
    method: 'post', path: '/api/grants/:id/ssh-certificate', tag: 'access', status: 201, params: idParams, body: certificateBody,
    summary: 'Sign an OpenSSH user certificate for your public key, valid for this device until the grant ends (technician)',
    handler: ({ actor, params, body }) => issueSshCertificate(deps, actor, params.id, body.publicKey),
  }),
  route({
    method: 'get', path: '/api/ssh-known-hosts', tag: 'access',
    summary: 'The one-time known_hosts line (@cert-authority) that makes OpenSSH trust the proxy, whatever its host key',
    handler: ({ actor }) => sshKnownHosts(deps, actor),
  }),
  route({
    method: 'post', path: '/api/grants/:id/terminal-token', tag: 'access', status: 201, params: idParams,
    summary: 'A single-use, 60-second token for the browser terminal WebSocket (/api/terminal?token=…) of your active grant',
    handler: ({ actor, params }) => issueTerminalToken(deps, actor, params.id),
  }),
];
