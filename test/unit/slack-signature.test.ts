/** Slack's v0 request signature: the documented example, and everything that must be refused. */
import { describe, expect, it } from 'vitest';
import { slackSignature, verifySlackSignature } from '../../server/notify/slack-signature.js';

// the example from Slack's "Verifying requests from Slack"
const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const timestamp = '1531420618';
const body =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar' +
  '&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com' +
  '%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const signature = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
const at = (seconds: number) => new Date(seconds * 1000);
const sentAt = at(Number(timestamp));

describe('Slack request signatures (v0)', () => {
  it('computes and accepts Slack\'s documented example', () => {
    expect(slackSignature(secret, timestamp, body)).toBe(signature);
    expect(verifySlackSignature(secret, { signature, timestamp }, body, sentAt)).toEqual({ ok: true });
    expect(verifySlackSignature(secret, { signature, timestamp }, Buffer.from(body), sentAt)).toEqual({ ok: true });
  });

  it('refuses a body changed by one byte', () => {
    const changed = body.replace('user_name=roadrunner', 'user_name=roadrunnex');
    expect(verifySlackSignature(secret, { signature, timestamp }, changed, sentAt)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifySlackSignature(secret, { signature, timestamp }, `${body} `, sentAt)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a signature changed by one character, truncated, or made with another secret', () => {
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('3') ? '4' : '3'}`;
    expect(verifySlackSignature(secret, { signature: flipped, timestamp }, body, sentAt)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifySlackSignature(secret, { signature: signature.slice(0, -2), timestamp }, body, sentAt)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifySlackSignature(`${secret}x`, { signature, timestamp }, body, sentAt)).toEqual({ ok: false, reason: 'bad_signature' });
    // the timestamp is signed too: a fresh timestamp on an old signature does not pass
    expect(verifySlackSignature(secret, { signature, timestamp: '1531420619' }, body, sentAt)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a stale timestamp in both directions, at more than five minutes', () => {
    const t = Number(timestamp);
    expect(verifySlackSignature(secret, { signature, timestamp }, body, at(t + 300))).toEqual({ ok: true });
    expect(verifySlackSignature(secret, { signature, timestamp }, body, at(t - 300))).toEqual({ ok: true });
    expect(verifySlackSignature(secret, { signature, timestamp }, body, at(t + 301))).toEqual({ ok: false, reason: 'stale_timestamp' });
    // a timestamp from the future is refused just the same (replayable later otherwise)
    expect(verifySlackSignature(secret, { signature, timestamp }, body, at(t - 301))).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verifySlackSignature(secret, { signature, timestamp }, body, new Date())).toEqual({ ok: false, reason: 'stale_timestamp' });
  });

  it('refuses missing headers and a malformed timestamp', () => {
    expect(verifySlackSignature(secret, { signature: undefined, timestamp }, body, sentAt)).toEqual({ ok: false, reason: 'missing_signature' });
    expect(verifySlackSignature(secret, { signature: '', timestamp }, body, sentAt)).toEqual({ ok: false, reason: 'missing_signature' });
    expect(verifySlackSignature(secret, { signature, timestamp: undefined }, body, sentAt)).toEqual({ ok: false, reason: 'missing_timestamp' });
    expect(verifySlackSignature(secret, { signature, timestamp: '1531420618.5' }, body, sentAt)).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verifySlackSignature(secret, { signature, timestamp: 'abc' }, body, sentAt)).toEqual({ ok: false, reason: 'stale_timestamp' });
  });
});
