import { existsSync } from 'node:fs';
import { accessRecording, getSession, listSessions, terminateSession } from '../../core/sessions.js';
import { sessionView } from '../../core/technician-views.js';
import { notFound } from '../../core/errors.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { idParams, listSessionsQuery, terminateBody } from '../schemas.js';

export const sessionRoutes = (deps: HttpDeps) => [
  route({
    method: 'get', path: '/api/sessions', tag: 'sessions', query: listSessionsQuery,
    summary: 'Sessions the caller may see, newest first; filter by device, technician, vendor, end reason, live, time',
    handler: async ({ actor, query }) => {
      const { from, to, ...rest } = query;
      return { items: await listSessions(deps, actor, { ...rest, startedAfter: from, startedBefore: to }) };
    },
  }),
  route({
    method: 'get', path: '/api/sessions/:id', tag: 'sessions', params: idParams,
    summary: 'One session with its recording metadata',
    handler: async ({ actor, params }) => sessionView(actor, await getSession(deps, actor, params.id)),
  }),
  route({
    method: 'post', path: '/api/sessions/:id/terminate', tag: 'sessions', params: idParams, body: terminateBody,
    summary: 'Cut one live session now (approver of the department, admin)',
    handler: async ({ actor, params, body }) => {
      await terminateSession(deps, actor, params.id, body.reason);
      return { terminated: true };
    },
  }),
  route({
    method: 'get', path: '/api/sessions/:id/recording', tag: 'sessions', params: idParams,
    summary: 'The asciicast v2 recording (application/x-asciicast); every access is audited (auditor, admin)',
    async handler({ actor, params, res }) {
      const rec = await accessRecording(deps, actor, params.id);
      if (!existsSync(rec.path)) throw notFound('recording file');
      res.setHeader('content-type', 'application/x-asciicast');
      res.setHeader('content-disposition', `attachment; filename="session-${params.id}.cast"`);
      if (rec.sha256) res.setHeader('x-recording-sha256', rec.sha256);
      await new Promise<void>((resolve, reject) => res.sendFile(rec.path, { headers: { 'content-type': 'application/x-asciicast' } }, (err) => (err ? reject(err) : resolve())));
      return undefined;
    },
  }),
];
