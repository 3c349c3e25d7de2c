import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../server/http/app.js';
import { makeUser, startHarness, type Harness } from '../support/harness.js';
import { createVendor, deviceBody, expectError } from '../support/fixtures.js';

type Operation = {
  summary?: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, unknown>;
  security?: unknown[];
};
type JsonSchema = { type?: string; properties?: Record<string, JsonSchema>; required?: string[]; additionalProperties?: unknown };
type Doc = { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, Operation>> };

let h: Harness;
let doc: Doc;
beforeAll(async () => {
  h = await startHarness();
  // served to anyone: clients and the web UI read it before logging in
  doc = (await h.http.get('/api/openapi.json').expect(200).expect('Content-Type', /json/)).body;
});
afterAll(() => h.close());

const toOpenApiPath = (p: string) => p.replace(/:([A-Za-z]+)/g, '{$1}');
const bodySchema = (op: Operation | undefined) => op?.requestBody?.content['application/json']?.schema;

describe('GET /api/openapi.json', () => {
  it('is an OpenAPI 3.1 document', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
  });

  it('lists exactly the routes the app registers', () => {
    const registered = apiRoutes(h.deps).map((r) => `${r.method.toUpperCase()} ${toOpenApiPath(r.path)}`).sort();
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    expect(registered.length).toBeGreaterThan(10);
    expect(documented).toEqual(registered);
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const op of Object.values(ops)) expect(op.summary, p).toBeTruthy();
    }
  });

  it('every documented operation is really served (no catch-all 404)', async () => {
    for (const [p, ops] of Object.entries(doc.paths)) {
      const url = p.replace(/\{[A-Za-z]+\}/g, '00000000-0000-4000-8000-000000000000');
      for (const method of Object.keys(ops)) {
        const res = await (h.http as unknown as Record<string, (u: string) => import('supertest').Test>)[method]!(url).send({});
        expect(res.status, `${method} ${p}`).not.toBe(404);
        expect(res.status, `${method} ${p}`).toBeLessThan(500);
      }
    }
  });

  it('declares the path parameters of every templated path', () => {
    for (const [p, ops] of Object.entries(doc.paths)) {
      const names = [...p.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(ops)) {
        for (const n of names) expect(op.parameters?.find((x) => x.name === n && x.in === 'path')?.required, `${p} {${n}}`).toBe(true);
      }
    }
  });

  it('gives every POST and PATCH that takes input a JSON request body schema', () => {
    const mutating = apiRoutes(h.deps).filter((r) => r.method === 'post' || r.method === 'patch');
    expect(mutating.length).toBeGreaterThan(5);
    for (const r of mutating) {
      const op = doc.paths[toOpenApiPath(r.path)]![r.method];
      const schema = bodySchema(op);
      if (!r.body) continue; // e.g. logout: nothing to send
      expect(op?.requestBody?.required, `${r.method} ${r.path}`).toBe(true);
      expect(schema?.type, `${r.method} ${r.path}`).toBe('object');
      expect(Object.keys(schema?.properties ?? {}).length, `${r.method} ${r.path}`).toBeGreaterThan(0);
      // the API refuses unknown fields; the document says so
      expect(schema?.additionalProperties, `${r.method} ${r.path}`).toBe(false);
    }
    // the routes this suite knows take input all declare it
    for (const p of ['/api/auth/login', '/api/users', '/api/users/:id', '/api/vendors', '/api/devices', '/api/devices/:id', '/api/devices/:id/lifecycle']) {
      expect(mutating.filter((r) => r.path === p).every((r) => r.body), p).toBe(true);
    }
  });

  it('documents the fields of the main write operations', () => {
    const props = (p: string, m: string) => bodySchema(doc.paths[p]?.[m]);
    expect(props('/api/auth/login', 'post')?.required?.sort()).toEqual(['password', 'username']);
    expect(props('/api/users', 'post')?.required).toEqual(expect.arrayContaining(['username', 'displayName', 'roles', 'password']));
    expect(props('/api/vendors', 'post')?.required?.sort()).toEqual(['contractEnd', 'contractRef', 'name']);
    expect(Object.keys(props('/api/devices', 'post')?.properties ?? {})).toEqual(
      expect.arrayContaining(['name', 'hostKey', 'policy', 'vendorIds', 'credential', 'criticality']));
    expect(props('/api/devices/{id}/lifecycle', 'post')?.required?.sort()).toEqual(['reason', 'state']);
    expect(Object.keys(props('/api/users/{id}', 'patch')?.properties ?? {})).toContain('disabled');
  });

  it('the documented required device fields are the ones the API really requires', async () => {
    const admin = await makeUser(h, ['admin']);
    const required = bodySchema(doc.paths['/api/devices']!.post)!.required!;
    expect(required.length).toBeGreaterThan(3);
    for (const field of required) {
      const body = deviceBody();
      delete body[field];
      const err = expectError(await h.http.post('/api/devices').set(admin.auth).send(body), 400, 'invalid');
      expect(err.message).toContain(field);
    }
    // and nothing else is required
    const minimal = Object.fromEntries(Object.entries(deviceBody()).filter(([k]) => required.includes(k)));
    await h.http.post('/api/devices').set(admin.auth).send(minimal).expect(201);
    await createVendor(h, admin.auth);
  });

  it('documents the error shape and marks login as needing no credentials', () => {
    const login = doc.paths['/api/auth/login']!.post!;
    expect(login.security).toEqual([]);
    const me = doc.paths['/api/me']!.get!;
    expect(me.responses['401']).toBeDefined();
    const err = (me.responses['401'] as { content: Record<string, { schema: JsonSchema }> }).content['application/json']!.schema;
    expect(err.properties?.error?.required).toEqual(['code', 'message']);
  });
});
