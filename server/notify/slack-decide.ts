/**
 * Deciding from a Slack approval link. Opening a link (GET) only reads: it checks the token and shows
 * the request. Only the confirm POST decides, and it consumes the link's row with a conditional UPDATE
 * in the very transaction that records the decision — so a link decides at most once, and a refused
 * decision leaves the link usable. Every refused link (tampered, expired, reused, wrong approver, bad
 * form) is audited and changes nothing. The decision itself goes through the core's decideRequest,
 * with the link's approver (loaded fresh; disabled accounts refused) as the actor.
 */
import type pg from 'pg';
import { decideRequest } from '../core/decisions.js';
import { isAppError } from '../core/errors.js';
import type { CoreDeps, Tx } from '../core/ports.js';
import type { User } from '../core/types.js';
import { transaction, type Pool } from '../db/pool.js';
import { mapDatabaseError, repositories } from '../db/store.js';
import type { RefusalAuditor } from './slack-audit.js';
import type { LinkAction, LinkClaims, LinkTokens } from './slack-links.js';
import { slackStore } from './slack-store.js';
import { loadRequestView, type RequestView } from './slack-view.js';

export interface LinkDeps {
  core: CoreDeps;
  pool: Pool;
  links: LinkTokens;
  audit: RefusalAuditor;
}

export type RefusalReason = 'invalid' | 'expired' | 'reused' | 'wrong_approver' | 'approver_disabled' | 'bad_csrf' | 'cross_site';

export type LinkResult =
  | { kind: 'confirm'; view: RequestView; action: LinkAction; approver: User; csrf: string; expiresAt: Date }
  | { kind: 'decided'; view: RequestView; action: LinkAction; approver: User }
  /** nothing left to decide: the request is closed, or this approver already decided */
  | { kind: 'settled'; view: RequestView; message: string }
  | { kind: 'refused'; reason: RefusalReason; requestId: string | null };

export interface RequestMeta {
  ip: string | undefined;
}

type Checked = { ok: true; claims: LinkClaims; approver: User; view: RequestView } | { ok: false; result: LinkResult };

const eligible = (u: User, v: RequestView) =>
  u.roles.includes('approver') && u.department === v.context.device.approverDepartment && u.id !== v.context.technician.id;

async function refuse(d: LinkDeps, reason: RefusalReason, meta: RequestMeta, claims?: LinkClaims): Promise<{ ok: false; result: LinkResult }> {
  await d.audit({
    action: 'slack.link_refused', reason,
    subjectType: claims ? 'access_request' : null, subjectId: claims?.requestId ?? null,
    details: { ip: meta.ip ?? null, ...(claims ? { jti: claims.jti, approverId: claims.approverId, linkAction: claims.action } : {}) },
  });
  return { ok: false, result: { kind: 'refused', reason, requestId: claims?.requestId ?? null } };
}

/** Everything a link must satisfy before its page is shown or its POST is acted on. */
async function check(d: LinkDeps, token: unknown, meta: RequestMeta): Promise<Checked> {
  const verified = await d.links.verify(typeof token === 'string' ? token : '');
  if (!verified.ok) return refuse(d, verified.reason, meta, verified.reason === 'expired' ? verified.claims : undefined);
  const { claims } = verified;
  const row = await slackStore(d.pool).linkByJti(claims.jti);
  // a token we signed without a row (or with other bindings) was not issued by the Slack worker
  if (!row || row.requestId !== claims.requestId || row.approverId !== claims.approverId || row.action !== claims.action) {
    return refuse(d, 'invalid', meta, claims);
  }
  if (row.usedAt) return refuse(d, 'reused', meta, claims);
  if (row.expiresAt <= d.core.clock.now()) return refuse(d, 'expired', meta, claims);
  const read = d.core.store.read;
  const [approver, view] = [await read.users.byId(claims.approverId), await loadRequestView(read, claims.requestId)];
  if (!approver || !view) return refuse(d, 'invalid', meta, claims);
  if (approver.disabledAt) return refuse(d, 'approver_disabled', meta, claims);
  if (!eligible(approver, view)) return refuse(d, 'wrong_approver', meta, claims);
  const settled = settledMessage(view, approver);
  if (settled) return { ok: false, result: { kind: 'settled', view, message: settled } };
  return { ok: true, claims, approver, view };
}

function settledMessage(view: RequestView, approver: User): string | null {
  if (view.status !== 'pending') return `This request is already ${view.status}; there is nothing left to decide.`;
  const mine = view.decisions.find((x) => x.approverId === approver.id);
  return mine ? `You already ${mine.decision === 'approve' ? 'approved' : 'denied'} this request.` : null;
}

/** GET: shows the request and a confirm form. Never writes anything but a refusal's audit event. */
export async function openLink(d: LinkDeps, token: unknown, meta: RequestMeta): Promise<LinkResult> {
  const c = await check(d, token, meta);
  if (!c.ok) return c.result;
  return { kind: 'confirm', view: c.view, action: c.claims.action, approver: c.approver, csrf: d.links.csrfFor(c.claims.jti), expiresAt: c.claims.expiresAt };
}

/** Core deps bound to one open transaction; after-commit effects are held until the caller commits. */
function boundDeps(deps: CoreDeps, client: pg.PoolClient, deferred: (() => Promise<unknown>)[]): CoreDeps {
  const tx: Tx = repositories(client);
  const later = async (fn: () => Promise<unknown>) => void deferred.push(fn);
  return {
    ...deps,
    store: { read: tx, transaction: <T>(fn: (t: Tx) => Promise<T>) => fn(tx) },
    scheduler: {
      schedule: (j) => later(() => deps.scheduler.schedule(j)),
      ensure: (j) => later(() => deps.scheduler.ensure(j)),
      cancel: (ids) => later(() => deps.scheduler.cancel(ids)),
    },
    bus: { publish: (e) => later(() => deps.bus.publish(e)), subscribe: (h) => deps.bus.subscribe(h) },
    notifier: { notify: (n) => later(() => deps.notifier.notify(n)) },
  };
}

class LinkSpent extends Error {}

/** POST: consumes the link and records the decision, atomically. */
export async function decideByLink(
  d: LinkDeps,
  input: { token: unknown; csrf: unknown; comment: string | null },
  meta: RequestMeta & { crossSite: boolean },
): Promise<LinkResult> {
  const c = await check(d, input.token, meta);
  if (!c.ok) return c.result;
  if (meta.crossSite) return (await refuse(d, 'cross_site', meta, c.claims)).result;
  if (!d.links.checkCsrf(c.claims.jti, input.csrf)) return (await refuse(d, 'bad_csrf', meta, c.claims)).result;
  const deferred: (() => Promise<unknown>)[] = [];
  try {
    await transaction(d.pool, async (client) => {
      if (!(await slackStore(client).consumeLink(c.claims, d.core.clock.now()))) throw new LinkSpent();
      return decideRequest(boundDeps(d.core, client, deferred), { type: 'user', user: c.approver }, c.claims.requestId,
        { decision: c.claims.action, comment: input.comment, channel: 'slack-link' });
    });
  } catch (raw) {
    // the transaction rolled back: neither the link nor the request changed
    if (raw instanceof LinkSpent) return (await refuse(d, 'reused', meta, c.claims)).result;
    const err = mapDatabaseError(raw);
    if (!isAppError(err)) throw err;
    if (err.kind === 'forbidden') return (await refuse(d, 'wrong_approver', meta, c.claims)).result;
    const view = await loadRequestView(d.core.store.read, c.claims.requestId);
    if (!view || err.kind === 'not_found') return (await refuse(d, 'invalid', meta, c.claims)).result;
    return { kind: 'settled', view, message: err.message };
  }
  for (const run of deferred) {
    await run().catch((err) => d.core.problems.warn({ err }, 'after-commit effect of a Slack link decision failed'));
  }
  const view = (await loadRequestView(d.core.store.read, c.claims.requestId))!;
  return { kind: 'decided', view, action: c.claims.action, approver: c.approver };
}
