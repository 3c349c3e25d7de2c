import { decideRequest } from '../../core/decisions.js';
import { cancelAccessRequest, createAccessRequest, getAccessRequest, listAccessRequests } from '../../core/requests.js';
import type { Request } from 'express';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { createRequestBody, decisionBody, idParams, listRequestsQuery } from '../schemas.js';

/** The console calls with its session cookie; anything with a bearer token (scripts, integrations) is the API. */
const decisionChannel = (req: Request) => (req.get('authorization') ? 'api' : 'web');

export const requestRoutes = (deps: HttpDeps) => [
  route({
    method: 'post', path: '/api/access-requests', tag: 'access', status: 201, body: createRequestBody,
    summary: 'Request time-bound access to one device (technician); without startsAt the window starts at approval',
    handler: ({ actor, body }) => createAccessRequest(deps, actor, body),
  }),
  route({
    method: 'get', path: '/api/access-requests', tag: 'access', query: listRequestsQuery,
    summary: 'Requests the caller may see: technicians their own, approvers their department\'s, auditors and admins all',
    handler: async ({ actor, query }) => ({ items: await listAccessRequests(deps, actor, query) }),
  }),
  route({
    method: 'get', path: '/api/access-requests/:id', tag: 'access', params: idParams,
    summary: 'One request with its decisions and grant',
    handler: ({ actor, params }) => getAccessRequest(deps, actor, params.id),
  }),
  route({
    method: 'post', path: '/api/access-requests/:id/approve', tag: 'access', params: idParams, body: decisionBody,
    summary: 'Approve (eligible approver of the device\'s department; never your own request)',
    handler: ({ actor, params, body, req }) => decideRequest(deps, actor, params.id, { decision: 'approve', comment: body.comment, channel: decisionChannel(req) }),
  }),
  route({
    method: 'post', path: '/api/access-requests/:id/deny', tag: 'access', params: idParams, body: decisionBody,
    summary: 'Deny; one deny ends the request',
    handler: ({ actor, params, body, req }) => decideRequest(deps, actor, params.id, { decision: 'deny', comment: body.comment, channel: decisionChannel(req) }),
  }),
  route({
    method: 'post', path: '/api/access-requests/:id/cancel', tag: 'access', params: idParams,
    summary: 'Cancel your own pending request (technician)',
    handler: ({ actor, params }) => cancelAccessRequest(deps, actor, params.id),
  }),
];
