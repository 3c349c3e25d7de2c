/**
 * Who is deciding on an approval link's page. A link decides only for the approver it was issued to,
 * signed in right there: with the console session this browser already holds (its cookie is
 * SameSite=Strict, so it comes with the page's own same-origin form post, never with the cross-site
 * visit from Slack), or with that approver's password typed into the page (the core's login, under the
 * login throttle and audited like any sign-in), or with one of that approver's passkeys (its assertion,
 * over a challenge bound to the request, is verified by the core's step-up). The MFA code typed beside
 * a password is the step-up proof decideByLink checks. Someone else's session never decides, whoever
 * holds the link.
 */
import { login, authenticate } from '../core/auth.js';
import type { LinkSignIn } from '../core/decisions.js';
import { isAppError } from '../core/errors.js';
import type { CoreDeps } from '../core/ports.js';
import type { Actor, User } from '../core/types.js';

export interface LinkCredentials {
  /** the console session token from this browser's cookie, if it sent one */
  sessionToken?: string;
  /** the named approver's password, typed into the page */
  password?: string;
  /** a passkey assertion came with the form: it signs in as the named approver if the core verifies it */
  passkey?: boolean;
  clientAddress?: string;
}

export type LinkSigner =
  | { kind: 'approver'; actor: Actor & { type: 'user' }; signIn: LinkSignIn }
  /** a console session of someone other than the link's approver */
  | { kind: 'someone_else'; user: User }
  | { kind: 'nobody' }
  /** the typed password was refused (or the account must change it first): the message says why */
  | { kind: 'failed'; message: string };

/** Resolves the signer for `approver` (loaded fresh by the caller; disabled accounts already refused). */
export async function linkSigner(core: CoreDeps, approver: User, creds: LinkCredentials): Promise<LinkSigner> {
  if (creds.password) {
    try {
      // only the link's own approver can sign in here: the username is theirs, never the form's
      await login(core, { username: approver.username, password: creds.password, clientAddress: creds.clientAddress });
    } catch (err) {
      if (isAppError(err) && (err.kind === 'unauthenticated' || err.kind === 'throttled')) return { kind: 'failed', message: err.message };
      throw err;
    }
    if (approver.passwordChangeRequired) {
      return { kind: 'failed', message: 'your password was set by someone else: change it in the web console first, then use the link' };
    }
    return { kind: 'approver', actor: { type: 'user', user: approver }, signIn: 'password' };
  }
  // nothing is proven yet: decideByLink accepts this sign-in only with the passkey's assertion verified
  if (creds.passkey) return { kind: 'approver', actor: { type: 'user', user: approver }, signIn: 'passkey' };
  if (creds.sessionToken) {
    let actor: Actor;
    try {
      actor = await authenticate(core, creds.sessionToken);
    } catch (err) {
      // an expired or ended session is no session
      if (isAppError(err)) return { kind: 'nobody' };
      throw err;
    }
    if (actor.type !== 'user') return { kind: 'nobody' };
    if (actor.user.id !== approver.id) return { kind: 'someone_else', user: actor.user };
    return { kind: 'approver', actor, signIn: 'session' };
  }
  return { kind: 'nobody' };
}
