/**
 * The request log an operator reads: at `info` one short line per write or refusal, successful reads
 * (the console's polling) only at `debug`, and never a header — with LOG_LEVEL=debug the headers are
 * there, still without the cookie or the bearer token.
 */
import { pino } from 'pino';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app.js';
import { createVendor } from '../support/fixtures.js';
import { makeUser, startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

/** the app with a logger at `level`, and the request lines it writes */
function appAt(level: 'info' | 'debug') {
  const lines: Record<string, any>[] = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const http = supertest(createApp({ ...h.deps, logger }));
  return { http, requests: () => lines.filter((l) => l.req) };
}

describe('the request log', () => {
  it('at info: writes and refusals, one line each without headers; successful reads are not there', async () => {
    const admin = await makeUser(h, ['admin']);
    const { http, requests } = appAt('info');
    await http.get('/api/devices').set(admin.auth).expect(200);
    await http.get('/api/sessions?live=true').set(admin.auth).expect(200);
    await http.post('/api/vendors').set(admin.auth).send({ name: `Log ${Date.now()}`, contractRef: 'C', contractEnd: '2099-01-01' }).expect(201);
    await http.get('/api/devices').set('Cookie', 'portcullis_session=not-a-token').expect(401);
    const lines = requests();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[30, 'POST /api/vendors 201'], [30, 'GET /api/devices 401']]);
    for (const l of lines) {
      expect(Object.keys(l.req).sort()).toEqual(['id', 'method', 'remoteAddress', 'url']);
      expect(l.res).toEqual({ statusCode: l.msg.endsWith('201') ? 201 : 401 });
      expect(JSON.stringify(l)).not.toMatch(/Bearer|portcullis_session|headers/);
    }
  });

  it('at debug: reads too, with headers but never the cookie or the authorization', async () => {
    const admin = await makeUser(h, ['admin']);
    await createVendor(h, admin.auth);
    const { http, requests } = appAt('debug');
    await http.get('/api/vendors').set(admin.auth).set('Cookie', 'portcullis_session=secret-cookie').set('User-Agent', 'log-test').expect(200);
    const [line] = requests();
    expect(line).toMatchObject({ level: 20, msg: 'GET /api/vendors 200', req: { method: 'GET', headers: { 'user-agent': 'log-test' } } });
    expect(JSON.stringify(line)).not.toMatch(/Bearer|secret-cookie|authorization|"cookie"/i);
  });
});
