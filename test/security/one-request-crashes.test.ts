/**
 * Issue 10's three one-request crashes, each sent once at a real broker process (API and SSH proxy
 * in one `node server/main.ts`): before the fix each one ended the process — and with it every live
 * session, the console and the kill switch. Now each is answered (400, or a WebSocket protocol
 * close) and the process, /healthz and an established SSH session carry on. Plus the requests the
 * fuzz suite found answered 500: the client's fault, now answered 4xx.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startHostileTarget, type HostileTarget } from '../support/hostile-target.js';
import { rawExchange } from '../support/raw-net.js';
import { killStrays } from '../support/ssh-client.js';

const upgradeHeaders = (target: string, extra: string[] = []) =>
  Buffer.from([
    `GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', ...extra, '', '',
  ].join('\r\n'));

describe('one request never stops the broker', () => {
  let t: HostileTarget;
  beforeAll(async () => {
    t = await startHostileTarget();
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    killStrays();
  });

  it('answers 400 to a watch upgrade whose session cookie is not %-decodable', async () => {
    const reply = await rawExchange(t.httpPort, [upgradeHeaders(`/api/sessions/${randomUUID()}/watch`, ['Cookie: portcullis_session=%'])], { waitMs: 3000 });
    expect(reply.statuses).toEqual([400]);
    await t.assertSurvived('cookie %');
  });

  it('answers 400 to an upgrade whose request target is not a URL', async () => {
    const reply = await rawExchange(t.httpPort, [upgradeHeaders('http://[/')], { waitMs: 3000 });
    expect(reply.statuses).toEqual([400]);
    await t.assertSurvived('target http://[/');
  });

  it('closes a browser-terminal socket that sends an unmasked frame', async () => {
    const { url } = await t.e.broker.api.ok('POST', `/api/grants/${t.grant.id}/terminal-token`, t.w.tech.token);
    const ws = new WebSocket(`ws://127.0.0.1:${t.httpPort}${url}`);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.on('error', () => undefined);
    await new Promise<void>((resolve) => ws.on('message', (data, isBinary) => !isBinary && JSON.parse(String(data)).type === 'ready' && resolve()));
    // a client's frames must be masked (RFC 6455 5.1): this one is not
    (ws as unknown as { _socket: Duplex })._socket.write(Buffer.concat([Buffer.from([0x81, 0x05]), Buffer.from('hello')]));
    expect(await closed).toBe(1002);
    await t.assertSurvived('unmasked frame');
  });

  it('answers 4xx, not 500, to what the fuzz suite found: an undecodable path, an unknown charset, a NUL in a login name', async () => {
    // failed logins count against the source address: this one's is a documentation address, not loopback
    const headers = { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.10' };
    const status = (path: string, init: RequestInit = {}) => fetch(`${t.httpUrl}${path}`, init).then((r) => r.status);
    expect(await status(`/api/access-requests/%/cancel`, { method: 'POST', headers, body: '{}' })).toBe(400);
    expect(await status('/api/auth/login', { method: 'POST', headers: { ...headers, 'content-type': 'application/json; charset=nope' }, body: '{}' })).toBe(415);
    expect(await status('/api/auth/login', { method: 'POST', headers, body: JSON.stringify({ username: 'a\u0000b', password: 'p' }) })).toBe(400);
    await t.assertSurvived('4xx');
  });
});
