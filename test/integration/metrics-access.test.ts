/**
 * /metrics answers only `Authorization: Bearer $METRICS_TOKEN`; without a token configured, only
 * loopback callers (a client forwarded by a reverse proxy on this host counts as that client).
 */
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app.js';
import { createOpsApp } from '../../server/http/ops.js';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const TOKEN = 'metrics-token-for-the-scraper-0123';

describe('/metrics', () => {
  it('with METRICS_TOKEN: only that bearer token is let in, whatever the address', async () => {
    for (const app of [createApp({ ...h.deps, metricsToken: TOKEN }), createOpsApp(h.deps.metrics, h.deps.healthy, { metricsToken: TOKEN })]) {
      const http = supertest(app);
      const none = await http.get('/metrics');
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe('unauthenticated');
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expect((await http.get('/metrics').set('Authorization', `Bearer ${TOKEN}x`)).status).toBe(401);
      expect((await http.get('/metrics').set('Authorization', 'Bearer short')).status).toBe(401);
      const ok = await http.get('/metrics').set('Authorization', `Bearer ${TOKEN}`).set('X-Forwarded-For', '198.51.100.9');
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('portcullis_ssh_crypto_binding');
      // liveness stays open to probes
      await http.get('/healthz').expect(200);
    }
  });

  it('without METRICS_TOKEN: loopback callers only', async () => {
    for (const app of [createApp(h.deps), createOpsApp(h.deps.metrics, h.deps.healthy)]) {
      const http = supertest(app);
      await http.get('/metrics').expect(200);
      const remote = await http.get('/metrics').set('X-Forwarded-For', '198.51.100.9');
      expect(remote.status).toBe(403);
      expect(remote.body.error.message).toMatch(/METRICS_TOKEN/);
    }
  });

  it('the API document stays public (it describes the API, it holds no data)', async () => {
    await h.http.get('/api/openapi.json').expect(200);
  });
});
