import { createVendor, getVendor, listVendors, updateVendor } from '../../core/vendors.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { idParams, updateVendorBody, vendorBody } from '../schemas.js';

export const vendorRoutes = (deps: HttpDeps) => [
  route({
    method: 'post', path: '/api/vendors', tag: 'vendors', status: 201, body: vendorBody,
    summary: 'Create a vendor (admin)',
    handler: ({ actor, body }) => createVendor(deps, actor, body),
  }),
  route({
    method: 'get', path: '/api/vendors', tag: 'vendors', summary: 'List vendors (admin, approver, auditor)',
    handler: async ({ actor }) => ({ items: await listVendors(deps, actor) }),
  }),
  route({
    method: 'get', path: '/api/vendors/:id', tag: 'vendors', params: idParams,
    summary: 'Read a vendor (technicians: their own)',
    handler: ({ actor, params }) => getVendor(deps, actor, params.id),
  }),
  route({
    method: 'patch', path: '/api/vendors/:id', tag: 'vendors', params: idParams, body: updateVendorBody,
    summary: 'Change a vendor, e.g. its contract end (admin)',
    handler: ({ actor, params, body }) => updateVendor(deps, actor, params.id, body),
  }),
];
