/** The OpenAPI 3.1 document, generated from the route declarations and their zod schemas. */
import { z } from 'zod';
import type { AnyRoute } from './route.js';

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } },
};

const jsonSchema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;

export function buildOpenApi(routes: AnyRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const m of r.path.matchAll(/:([A-Za-z]+)/g)) parameters.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    if (r.query) {
      const q = jsonSchema(r.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
      }
    }
    const responses: Record<string, unknown> = {
      [String(r.status ?? 200)]: { description: 'success' },
      400: { description: 'invalid input', content: { 'application/json': { schema: errorSchema } } },
    };
    if (r.auth !== false) {
      responses[401] = { description: 'not authenticated', content: { 'application/json': { schema: errorSchema } } };
      responses[403] = { description: 'not allowed for this role', content: { 'application/json': { schema: errorSchema } } };
    }
    if (r.path.includes(':')) responses[404] = { description: 'not found', content: { 'application/json': { schema: errorSchema } } };
    if (r.method !== 'get') responses[409] = { description: 'conflicts with the current state', content: { 'application/json': { schema: errorSchema } } };
    (paths[path] ??= {})[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.auth === false ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Portcullis API', version, description: 'Just-in-time remote access to medical devices.' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'portcullis_session' },
      },
    },
    security: [{ bearer: [] }, { cookie: [] }],
    paths,
  };
}
