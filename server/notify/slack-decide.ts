/**
 * Deciding from a Slack approval link. Opening a link (GET) only reads: it checks the token and shows
 * the request with a sign-in form. Only the confirm POST decides, and only for the approver the link
 * was issued to, signed in on that page (slack-sign-in.ts) and confirmed with a fresh MFA proof (the
 * core's step-up). A forwarded link — nobody signed in, someone else signed in, the requester signed
 * in — shows the request read-only and says who has to sign in. The decision goes through the core's
 * decideByLink, which consumes the link in the very transaction that records the decision: a link
 * decides at most once, and a refused decision leaves it usable. Every refusal is audited and changes
 * nothing else.
 */
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { isEligibleApprover } from '../core/access.js';
import { decideByLink } from '../core/decisions.js';
import { conflict, forbidden, isAppError, type AppError } from '../core/errors.js';
import type { CoreDeps } from '../core/ports.js';
import { stepUpOptions, type StepUpProof } from '../core/step-up.js';
import type { User } from '../core/types.js';
import type { RefusalAuditor } from './slack-audit.js';
import type { LinkAction, LinkClaims, LinkTokens } from './slack-links.js';
import { linkSigner, type LinkCredentials } from './slack-sign-in.js';
import { loadRequestView, type RequestView } from './slack-view.js';

export interface LinkDeps {
  core: CoreDeps;
  links: LinkTokens;
  audit: RefusalAuditor;
}

export type RefusalReason = 'invalid' | 'expired' | 'reused' | 'wrong_approver' | 'approver_disabled' | 'bad_csrf' | 'cross_site';

/** Why a confirm POST did not decide although the link itself is good: the page asks for a sign-in again. */
export type SignInProblem =
  | { reason: 'not_signed_in' }
  | { reason: 'someone_else'; signedIn: Pick<User, 'displayName' | 'username'> }
  | { reason: 'own_request'; signedIn: Pick<User, 'displayName' | 'username'> }
  | { reason: 'sign_in_failed' | 'step_up_required' | 'step_up_failed'; message: string };

export type LinkResult =
  /** the request, read-only, with the form by which its named approver signs in and decides; `problem` after a refused POST */
  | { kind: 'confirm'; view: RequestView; action: LinkAction; approver: User; csrf: string; expiresAt: Date; problem?: SignInProblem;
      /** the approver has a passkey: the page offers it first */
      passkey: boolean }
  | { kind: 'decided'; view: RequestView; action: LinkAction; approver: User }
  /** nothing left to decide: the request is closed, or this approver already decided */
  | { kind: 'settled'; view: RequestView; message: string }
  | { kind: 'refused'; reason: RefusalReason; requestId: string | null };

export interface RequestMeta {
  ip: string | undefined;
}

type Checked = { ok: true; claims: LinkClaims; approver: User; view: RequestView } | { ok: false; result: LinkResult };

async function audit(d: LinkDeps, reason: string, meta: RequestMeta, claims?: LinkClaims, extra: Record<string, unknown> = {}): Promise<void> {
  await d.audit({
    action: 'slack.link_refused', reason,
    subjectType: claims ? 'access_request' : null, subjectId: claims?.requestId ?? null,
    details: { ip: meta.ip ?? null, ...(claims ? { jti: claims.jti, approverId: claims.approverId, linkAction: claims.action } : {}), ...extra },
  });
}

async function refuse(d: LinkDeps, reason: RefusalReason, meta: RequestMeta, claims?: LinkClaims): Promise<{ ok: false; result: LinkResult }> {
  await audit(d, reason, meta, claims);
  return { ok: false, result: { kind: 'refused', reason, requestId: claims?.requestId ?? null } };
}

/** Everything a link must satisfy before its page is shown or its POST is acted on. */
async function check(d: LinkDeps, token: unknown, meta: RequestMeta): Promise<Checked> {
  const verified = await d.links.verify(typeof token === 'string' ? token : '');
  if (!verified.ok) return refuse(d, verified.reason, meta, verified.reason === 'expired' ? verified.claims : undefined);
  const { claims } = verified;
  const read = d.core.store.read;
  const row = await read.approvalLinks.byJti(claims.jti);
  // a token we signed without a row (or with other bindings) was not issued by the Slack worker
  if (!row || row.requestId !== claims.requestId || row.approverId !== claims.approverId || row.action !== claims.action) {
    return refuse(d, 'invalid', meta, claims);
  }
  if (row.usedAt) return refuse(d, 'reused', meta, claims);
  if (row.expiresAt <= d.core.clock.now()) return refuse(d, 'expired', meta, claims);
  const [approver, view] = [await read.users.byId(claims.approverId), await loadRequestView(read, claims.requestId)];
  if (!approver || !view) return refuse(d, 'invalid', meta, claims);
  if (approver.disabledAt) return refuse(d, 'approver_disabled', meta, claims);
  const device = { policy: { approverDepartment: view.context.device.approverDepartment } };
  if (!isEligibleApprover(approver, device, view.context.technician.id)) return refuse(d, 'wrong_approver', meta, claims);
  const settled = settledMessage(view, approver);
  if (settled) return { ok: false, result: { kind: 'settled', view, message: settled } };
  return { ok: true, claims, approver, view };
}

function settledMessage(view: RequestView, approver: User): string | null {
  if (view.status !== 'pending') return `This request is already ${view.status}; there is nothing left to decide.`;
  const mine = view.decisions.find((x) => x.approverId === approver.id);
  return mine ? `You already ${mine.decision === 'approve' ? 'approved' : 'denied'} this request.` : null;
}

async function confirmPage(d: LinkDeps, c: Extract<Checked, { ok: true }>, problem?: SignInProblem): Promise<LinkResult> {
  const passkey = (await d.core.store.read.mfa.summary(c.approver.id)).passkeys > 0;
  return { kind: 'confirm', view: c.view, action: c.claims.action, approver: c.approver, csrf: d.links.csrfFor(c.claims.jti), expiresAt: c.claims.expiresAt,
    passkey, ...(problem ? { problem } : {}) };
}

/** GET: shows the request and the sign-in/confirm form. Never writes anything but a refusal's audit event. */
export async function openLink(d: LinkDeps, token: unknown, meta: RequestMeta): Promise<LinkResult> {
  const c = await check(d, token, meta);
  return c.ok ? confirmPage(d, c) : c.result;
}

/**
 * The page script's passkey challenge for the link's approver, bound to the link's request (the core's
 * stepUpOptions). Asked with the page's own link and CSRF value; a challenge proves nothing by itself.
 */
export async function linkPasskeyOptions(d: LinkDeps, input: { token: unknown; csrf: unknown }, meta: RequestMeta & { crossSite: boolean }) {
  const c = await check(d, input.token, meta);
  if (!c.ok) throw c.result.kind === 'settled' ? conflict(c.result.message) : forbidden('this link cannot decide');
  if (meta.crossSite || !d.links.checkCsrf(c.claims.jti, input.csrf)) throw forbidden('the request did not come from the link\'s page');
  return stepUpOptions(d.core, { type: 'user', user: c.approver }, c.claims.requestId);
}

/** The step-up proof given on the page: a passkey assertion (JSON from the page's script), a TOTP code (digits) or a recovery code. */
function proofOf(code: string | null, webauthn: string | null): StepUpProof | undefined {
  if (webauthn) {
    try {
      const parsed: unknown = JSON.parse(webauthn);
      if (parsed && typeof parsed === 'object' && typeof (parsed as { id?: unknown }).id === 'string') return { webauthn: parsed as AuthenticationResponseJSON };
    } catch {
      // an unreadable assertion is no proof
    }
    return undefined;
  }
  if (!code) return undefined;
  const compact = code.replace(/\s+/g, '');
  return /^\d{6,8}$/.test(compact) ? { code: compact } : { recoveryCode: code.trim() };
}

const stepUpError = (err: AppError) => err.details?.stepUpRequired === true;

/** POST: the named approver, signed in on the page, decides once. */
export async function confirmLink(
  d: LinkDeps,
  input: { token: unknown; csrf: unknown; comment: string | null; code: string | null; webauthn: string | null; credentials: LinkCredentials },
  meta: RequestMeta & { crossSite: boolean },
): Promise<LinkResult> {
  const c = await check(d, input.token, meta);
  if (!c.ok) return c.result;
  if (meta.crossSite) return (await refuse(d, 'cross_site', meta, c.claims)).result;
  if (!d.links.checkCsrf(c.claims.jti, input.csrf)) return (await refuse(d, 'bad_csrf', meta, c.claims)).result;
  const proof = proofOf(input.code, input.webauthn);
  const signer = await linkSigner(d.core, c.approver, { ...input.credentials, passkey: proof !== undefined && 'webauthn' in proof, clientAddress: meta.ip });
  const problem = async (p: SignInProblem, extra: Record<string, unknown> = {}) => {
    await audit(d, p.reason, meta, c.claims, extra);
    return confirmPage(d, c, p);
  };
  switch (signer.kind) {
    case 'nobody':
      return problem({ reason: 'not_signed_in' });
    case 'failed':
      return problem({ reason: 'sign_in_failed', message: signer.message });
    case 'someone_else': {
      const who = { displayName: signer.user.displayName, username: signer.user.username };
      const own = signer.user.id === c.view.context.technician.id;
      return problem({ reason: own ? 'own_request' : 'someone_else', signedIn: who }, { signedInUserId: signer.user.id });
    }
    case 'approver':
      break;
  }
  try {
    await decideByLink(d.core, signer.actor, c.claims, { comment: input.comment, signIn: signer.signIn, stepUp: proof });
  } catch (err) {
    // the transaction rolled back: neither the link nor the request changed
    if (!isAppError(err)) throw err;
    if (stepUpError(err) || (proof && (err.kind === 'invalid' || err.kind === 'unauthenticated'))) {
      return problem({ reason: proof ? 'step_up_failed' : 'step_up_required', message: err.message }, { signIn: signer.signIn });
    }
    if (err.kind === 'throttled') return problem({ reason: 'sign_in_failed', message: err.message });
    const row = await d.core.store.read.approvalLinks.byJti(c.claims.jti);
    if (row?.usedAt) return (await refuse(d, 'reused', meta, c.claims)).result;
    if (row && row.expiresAt <= d.core.clock.now()) return (await refuse(d, 'expired', meta, c.claims)).result;
    if (err.kind === 'forbidden') return (await refuse(d, 'wrong_approver', meta, c.claims)).result;
    const view = await loadRequestView(d.core.store.read, c.claims.requestId);
    if (!view || err.kind === 'not_found') return (await refuse(d, 'invalid', meta, c.claims)).result;
    return { kind: 'settled', view, message: err.message };
  }
  const view = (await loadRequestView(d.core.store.read, c.claims.requestId))!;
  return { kind: 'decided', view, action: c.claims.action, approver: c.approver };
}
