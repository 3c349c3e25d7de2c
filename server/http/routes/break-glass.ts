import { openBreakGlass, reviewEmergencyGrant } from '../../core/break-glass.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { breakGlassBody, idParams, reviewBody } from '../schemas.js';

/** Break-glass (§8.6): emergency access at once, and its review afterwards. */
export const breakGlassRoutes = (deps: HttpDeps) => [
  route({
    method: 'post', path: '/api/break-glass', tag: 'access', status: 201, body: breakGlassBody,
    summary: 'Emergency access (technician; devices whose policy has breakGlass): an active grant at once, ' +
      'at most policy.breakGlassMaxMinutes, told to every approver of the device and reviewed within 24 h',
    handler: ({ actor, body }) => openBreakGlass(deps, actor, body),
  }),
  route({
    method: 'post', path: '/api/grants/:id/review', tag: 'access', params: idParams, body: reviewBody,
    summary: 'Review an emergency grant: justified or unjustified (eligible approver of the device\'s department, never the technician); ' +
      'unjustified also ends access still running',
    handler: ({ actor, params, body }) => reviewEmergencyGrant(deps, actor, params.id, body),
  }),
];
