import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser, startHarness, type Harness } from '../support/harness.js';

describe('harness', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('serves /api/me for a bearer token and 401 without one', async () => {
    const admin = await makeUser(h, ['admin']);
    const me = await h.http.get('/api/me').set(admin.auth).expect(200);
    expect(me.body.username).toBe(admin.user.username);
    const anon = await h.http.get('/api/me').expect(401);
    expect(anon.body.error.code).toBe('unauthenticated');
  });
});
