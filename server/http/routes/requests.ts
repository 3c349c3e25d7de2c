import { decideRequest } from '../../core/decisions.js';
import { stepUpOptions } from '../../core/step-up.js';
import { cancelAccessRequest, createAccessRequest, getAccessRequest, listAccessRequests } from '../../core/requests.js';
import type { Request } from 'express';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { createRequestBody, decisionBody, idParams, listRequestsQuery } from '../schemas.js';

/** The console calls with its session cookie; anything with a bearer token (scripts, integrations) is the API. */
const decisionChannel = (req: Request) => (req.get('authorization') ? 'api' : 'web');

const STEP_UP = 'Step-up: the sign-in\'s MFA proof counts while younger than STEP_UP_SECONDS; otherwise send stepUp ' +
  '({code}, {recoveryCode} or {webauthn} signed over POST …/step-up/options), or get 403 with error.details.stepUpRequired and methods';

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
    summary: 'Approve (eligible approver of the device\'s department; never your own request). ' + STEP_UP,
    handler: ({ actor, params, body, req }) =>
      decideRequest(deps, actor, params.id, { decision: 'approve', comment: body.comment, channel: decisionChannel(req), stepUp: body.stepUp }),
  }),
  route({
    method: 'post', path: '/api/access-requests/:id/deny', tag: 'access', params: idParams, body: decisionBody,
    summary: 'Deny; one deny ends the request. ' + STEP_UP,
    handler: ({ actor, params, body, req }) =>
      decideRequest(deps, actor, params.id, { decision: 'deny', comment: body.comment, channel: decisionChannel(req), stepUp: body.stepUp }),
  }),
  route({
    method: 'post', path: '/api/access-requests/:id/step-up/options', tag: 'access', params: idParams,
    summary: 'Passkey options to confirm a decision on this request: the challenge is derived from the request\'s content and ' +
      'a single-use nonce (5 minutes), so the signed response approves or denies this request only',
    handler: ({ actor, params }) => stepUpOptions(deps, actor, params.id),
  }),
  route({
    method: 'post', path: '/api/access-requests/:id/cancel', tag: 'access', params: idParams,
    summary: 'Cancel your own pending request (technician)',
    handler: ({ actor, params }) => cancelAccessRequest(deps, actor, params.id),
  }),
];
