import { testDevice } from '../../core/device-test.js';
import { createDevice, getDevice, listDevices, transitionDevice, updateDevice } from '../../core/devices.js';
import { deviceView } from '../../core/technician-views.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { createDeviceBody, idParams, lifecycleBody, listDevicesQuery, updateDeviceBody } from '../schemas.js';

export const deviceRoutes = (deps: HttpDeps) => [
  route({
    method: 'post', path: '/api/devices', tag: 'devices', status: 201, body: createDeviceBody,
    summary: 'Enroll a device with its trust record, policy, vendors and vaulted credential (admin)',
    handler: ({ actor, body }) => createDevice(deps, actor, body),
  }),
  route({
    method: 'get', path: '/api/devices', tag: 'devices', query: listDevicesQuery,
    summary: 'List the devices the caller may see',
    handler: async ({ actor, query }) => ({ items: (await listDevices(deps, actor, query)).map((d) => deviceView(actor, d)) }),
  }),
  route({
    method: 'get', path: '/api/devices/:id', tag: 'devices', params: idParams,
    summary: 'Read a device trust record',
    handler: async ({ actor, params }) => deviceView(actor, await getDevice(deps, actor, params.id)),
  }),
  route({
    method: 'patch', path: '/api/devices/:id', tag: 'devices', params: idParams, body: updateDeviceBody,
    summary: 'Change a device record, policy, vendors or credential (admin)',
    handler: ({ actor, params, body }) => updateDevice(deps, actor, params.id, body),
  }),
  route({
    method: 'post', path: '/api/devices/:id/lifecycle', tag: 'devices', params: idParams, body: lifecycleBody,
    summary: 'Move a device through its lifecycle: staged → deployed ⇄ suspended → retired (admin)',
    handler: ({ actor, params, body }) => transitionDevice(deps, actor, params.id, body),
  }),
  route({
    method: 'post', path: '/api/devices/:id/test', tag: 'devices', params: idParams,
    summary: 'Test the connection now: the host key against the pin, the vaulted credential\'s login, a no-op command; the result is kept as lastTest (admin)',
    handler: ({ actor, params }) => testDevice(deps, actor, params.id),
  }),
];
