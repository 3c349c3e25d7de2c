/**
 * Helpers for the Slack approval link tests: a link minted and stored the way the Slack worker does it,
 * a person's console session cookie (what their browser sends with the page's same-origin form post),
 * a password for a person, for the page's inline sign-in, and an authenticator app for the step-up.
 */
import { randomBytes } from 'node:crypto';
import { newTotpSecret, TOTP_PERIOD_SECONDS, totpAssociatedData, totpFor } from '../../server/core/mfa-factors.js';
import { scryptHasher } from '../../server/crypto/passwords.js';
import { SESSION_COOKIE } from '../../server/http/auth.js';
import type { LinkAction, LinkTokens } from '../../server/notify/slack-links.js';
import type { Harness } from './harness.js';
import type { Person } from './workflow-fixtures.js';

/** Mints a link and stores its row; returns the token (for the URL) and its jti. */
export async function insertLink(h: Harness, links: LinkTokens, l: { requestId: string; approverId: string; action?: LinkAction }) {
  const { token, claims } = await links.mint({ requestId: l.requestId, approverId: l.approverId, action: l.action ?? 'approve' });
  await h.deps.store.transaction((tx) => tx.approvalLinks.insert(claims, h.clock.now()));
  return { token, jti: claims.jti };
}

/** The Cookie header of a fresh console session of `p` (minted at the fake clock's now). */
export async function approverSession(h: Harness, p: Person, token?: string): Promise<{ Cookie: string }> {
  const session = token ?? (await h.deps.tokens.issueSessionToken(p.user.id)).token;
  return { Cookie: `${SESSION_COOKIE}=${session}` };
}

/** Gives `p` a password of their own (no change required) and returns it. */
export async function setPassword(h: Harness, p: Person): Promise<string> {
  const password = `pw-${randomBytes(8).toString('hex')}`;
  await h.pool.query('UPDATE users SET password_hash = $2, password_change_required = false WHERE id = $1', [p.user.id, await scryptHasher.hash(password)]);
  return password;
}

/**
 * A confirmed authenticator app for `p` (what the console's enrolment leaves behind); returns a code
 * generator at the fake clock's time, `offsetSteps` 30-second steps later.
 */
export async function enrolTotp(h: Harness, p: Person): Promise<(offsetSteps?: number) => string> {
  const secret = newTotpSecret();
  const totp = totpFor(p.user, secret, h.deps.mfa.rpName);
  const now = h.clock.now();
  const step = Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS);
  await h.deps.store.transaction(async (tx) => {
    await tx.mfa.putPendingTotp(p.user.id, h.deps.vault.seal(secret, totpAssociatedData(p.user.id)), now);
    // confirmed with an earlier code, so the current one is still unused
    await tx.mfa.confirmTotp(p.user.id, step - 2, now);
  });
  return (offsetSteps = 0) => totp.generate({ timestamp: h.clock.now().getTime() + offsetSteps * TOTP_PERIOD_SECONDS * 1000 });
}
