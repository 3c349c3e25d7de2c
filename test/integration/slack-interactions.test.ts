/**
 * POST /api/slack/interactions through the real app: Slack's signature is checked over the raw body
 * before anything else; unsigned, stale or altered calls get a 401 and an audit event; a signed
 * link-button click (block_actions) is acknowledged at once with an empty 200.
 */
import supertest from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../server/http/app.js';
import { slackRoutes } from '../../server/http/routes/slack.js';
import { slackSignature } from '../../server/notify/slack-signature.js';
import { startHarness, type Harness } from '../support/harness.js';

const secret = 'test-signing-secret-0123456789';
let h: Harness;
let http: ReturnType<typeof supertest>;

beforeAll(async () => {
  h = await startHarness();
  http = supertest(createApp(h.deps, slackRoutes({ core: h.deps, publicUrl: 'https://portcullis.example', signingSecret: secret })));
});
afterAll(async () => h?.close());
beforeEach(() => h.clock.set(new Date()));

const blockActions = (actionId = 'portcullis_approve') =>
  `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', user: { id: 'U0APPROVER' }, actions: [{ action_id: actionId, type: 'button' }] }))}`;
const nowSeconds = () => String(Math.floor(h.clock.now().getTime() / 1000));

function send(body: string, headers: Record<string, string>) {
  return http.post('/api/slack/interactions').set({ 'Content-Type': 'application/x-www-form-urlencoded', ...headers }).send(body);
}
const signed = (body: string, ts = nowSeconds(), key = secret) =>
  send(body, { 'X-Slack-Request-Timestamp': ts, 'X-Slack-Signature': slackSignature(key, ts, body) });

async function refusalsSince(seq: number) {
  const { rows } = await h.pool.query(
    "SELECT details FROM audit_events WHERE action = 'slack.signature_refused' AND seq > $1 ORDER BY seq", [seq]);
  return rows.map((r) => (r.details as { reason: string }).reason);
}
const headSeq = async () => (await h.pool.query('SELECT coalesce(max(seq), 0)::int AS n FROM audit_events')).rows[0].n as number;

describe('POST /api/slack/interactions', () => {
  it('acknowledges a signed link-button click with an empty 200', async () => {
    const res = await signed(blockActions());
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
  });

  it('accepts Slack\'s documented example signature (then finds no interaction payload in a slash command)', async () => {
    const body = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar' +
      '&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com' +
      '%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const documented = supertest(createApp(h.deps, slackRoutes({ core: h.deps, publicUrl: 'https://p.example', signingSecret: '8f742231b10e8888abcd99yyyzzz85a5' })));
    h.clock.set(new Date(1531420618 * 1000 + 42_000));
    const res = await documented.post('/api/slack/interactions').set({
      'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': '1531420618',
      'X-Slack-Signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    }).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('no interaction payload');
  });

  it('refuses unsigned, altered, stale and future-dated calls with 401, and audits each', async () => {
    const before = await headSeq();
    const body = blockActions();
    const ts = nowSeconds();
    const sig = slackSignature(secret, ts, body);
    const cases: [string, Promise<{ status: number }>][] = [
      ['no headers', send(body, {})],
      ['no timestamp', send(body, { 'X-Slack-Signature': sig })],
      ['one byte changed', send(body.replace('portcullis_approve', 'portcullis_approvf'), { 'X-Slack-Request-Timestamp': ts, 'X-Slack-Signature': sig })],
      ['wrong secret', signed(body, ts, 'another-secret')],
      ['six minutes old', signed(body, String(Number(ts) - 360))],
      ['six minutes ahead', signed(body, String(Number(ts) + 360))],
    ];
    for (const [name, call] of cases) {
      const res = await call;
      expect(res.status, name).toBe(401);
      expect((res as unknown as { body: { error: { code: string } } }).body.error.code).toBe('unauthenticated');
    }
    expect(await refusalsSince(before)).toEqual(['missing_signature', 'missing_timestamp', 'bad_signature', 'bad_signature', 'stale_timestamp', 'stale_timestamp']);
  });

  it('checks the raw bytes whatever the content type claims', async () => {
    const body = JSON.stringify({ type: 'block_actions', actions: [] });
    const ts = nowSeconds();
    const res = await http.post('/api/slack/interactions')
      .set({ 'Content-Type': 'application/json', 'X-Slack-Request-Timestamp': ts, 'X-Slack-Signature': slackSignature(secret, ts, `${body} `) })
      .send(body);
    expect(res.status).toBe(401);
  });

  it('is not served at all when no signing secret is configured', async () => {
    const bare = supertest(createApp(h.deps, slackRoutes({ core: h.deps, publicUrl: 'https://p.example' })));
    expect((await bare.post('/api/slack/interactions').send('payload=%7B%7D')).status).toBe(404);
    expect((await bare.get('/slack/decide?t=x')).status).not.toBe(200);
  });
});
