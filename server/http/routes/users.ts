import { createUser, getUser, listUsers, unlockUser, updateUser } from '../../core/users.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { createUserBody, idParams, listUsersQuery, updateUserBody } from '../schemas.js';

export const userRoutes = (deps: HttpDeps) => [
  route({
    method: 'post', path: '/api/users', tag: 'users', status: 201, body: createUserBody,
    summary: 'Create a user (admin)',
    handler: ({ actor, body }) => createUser(deps, actor, body),
  }),
  route({
    method: 'get', path: '/api/users', tag: 'users', query: listUsersQuery,
    summary: 'List users (admin)',
    handler: async ({ actor, query }) => ({ items: await listUsers(deps, actor, query) }),
  }),
  route({
    method: 'get', path: '/api/users/:id', tag: 'users', params: idParams,
    summary: 'Read a user (admin)',
    handler: ({ actor, params }) => getUser(deps, actor, params.id),
  }),
  route({
    method: 'patch', path: '/api/users/:id', tag: 'users', params: idParams, body: updateUserBody,
    summary: 'Change a user: roles, vendor, department, password, disabled (admin)',
    handler: ({ actor, params, body }) => updateUser(deps, actor, params.id, body),
  }),
  route({
    method: 'post', path: '/api/users/:id/unlock', tag: 'users', params: idParams,
    summary: 'Lift a user\'s login locks: the account lock and every source address locked out of it (admin; audited auth.unlocked)',
    handler: ({ actor, params }) => unlockUser(deps, actor, params.id),
  }),
];
