/**
 * Token revocation reaches the WebSockets: the live-watch upgrade authenticates with the same core
 * `authenticate` as HTTP, so a token ended by logout or a role change, or one that may only change a
 * password, is refused at the upgrade. Against a whole broker listening on a real port.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { addUser, startTestBroker, type TestBroker } from '../support/test-broker.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker?.stop());

/** 'open' when the upgrade was accepted, else the HTTP status that refused it. */
function tryWatch(headers: Record<string, string>): Promise<'open' | number> {
  const url = `${broker.httpUrl!.replace(/^http/, 'ws')}/api/sessions/${randomUUID()}/watch`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', (err) => reject(err));
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('live watch after token revocation', () => {
  it('logout ends the token for the watch socket too (bearer and cookie)', async () => {
    const auditor = await addUser(broker, ['auditor']);
    expect(await tryWatch(bearer(auditor.token))).toBe('open');
    expect(await tryWatch({ cookie: `portcullis_session=${auditor.token}` })).toBe('open');

    const out = await broker.api.call('POST', '/api/auth/logout', auditor.token);
    expect(out.status).toBe(204);
    expect(await tryWatch(bearer(auditor.token))).toBe(401);
    expect(await tryWatch({ cookie: `portcullis_session=${auditor.token}` })).toBe(401);
  });

  it('a role change by an admin ends the watcher\'s token at once', async () => {
    const admin = await addUser(broker, ['admin']);
    const approver = await addUser(broker, ['approver'], { department: 'icu' });
    expect(await tryWatch(bearer(approver.token))).toBe('open');
    await broker.api.ok('PATCH', `/api/users/${approver.id}`, admin.token, { roles: ['auditor'] });
    expect(await tryWatch(bearer(approver.token))).toBe(401);
  });

  it('a token that may only change its password cannot watch', async () => {
    const auditor = await addUser(broker, ['auditor']);
    await broker.pool.query('UPDATE users SET password_change_required = true WHERE id = $1', [auditor.id]);
    // refused at the upgrade: 403 (must change the password first) where the upgrade maps error kinds, 401 otherwise
    expect([401, 403]).toContain(await tryWatch(bearer(auditor.token)));
  });
});
