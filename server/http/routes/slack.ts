/**
 * Slack's HTTP surface. `POST /api/slack/interactions` checks Slack's v0 signature over the raw body
 * before it looks at anything else, and acknowledges link-button clicks at once (Slack wants an answer
 * within 3 s; the browser visit that follows is what matters). `/slack/decide` serves the approval
 * link pages: GET shows, only POST decides — for the link's approver signed in on the page.
 */
import type { Request, Response } from 'express';
import { invalid, unauthenticated } from '../../core/errors.js';
import type { CoreDeps } from '../../core/ports.js';
import { createRefusalAuditor } from '../../notify/slack-audit.js';
import { confirmLink, linkPasskeyOptions, openLink, type LinkDeps, type LinkResult } from '../../notify/slack-decide.js';
import type { LinkTokens } from '../../notify/slack-links.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySlackSignature } from '../../notify/slack-signature.js';
import { SESSION_COOKIE } from '../auth.js';
import { route, type AnyRoute } from '../route.js';
import { PASSKEY_SCRIPT, PASSKEY_SCRIPT_PATH } from '../slack-passkey-script.js';
import { renderLinkPage } from '../slack-pages.js';

export const INTERACTIONS_PATH = '/api/slack/interactions';
export const DECIDE_PATH = '/slack/decide';

export interface SlackRouteDeps {
  core: CoreDeps;
  publicUrl: string;
  /** approval links; absent when no bot token is configured (nothing issues links then) */
  links?: LinkTokens;
  /** absent: the interactions endpoint is not served */
  signingSecret?: string;
}

/** pino-http's request serializer: approval-link tokens (in the query or a Referer) never reach the log. */
export function redactLinkTokens<T extends { url?: string; query?: unknown; headers?: Record<string, unknown> }>(req: T): T {
  const referer = req.headers?.referer;
  const refererLeaks = typeof referer === 'string' && referer.includes(DECIDE_PATH);
  if (!req.url?.startsWith(DECIDE_PATH) && !refererLeaks) return req;
  return {
    ...req,
    url: req.url?.split('?')[0],
    query: {},
    headers: { ...req.headers, ...(refererLeaks ? { referer: (referer as string).split('?')[0] } : {}) },
  };
}

/** A POST that did not come from our own page: Fetch metadata first, then a readable Origin. */
function crossSite(req: Request, publicUrl: string): boolean {
  const site = req.get('sec-fetch-site');
  if (site) return site !== 'same-origin' && site !== 'none';
  const origin = req.get('origin');
  // no Origin, or the opaque "null" some browsers send: the CSRF value still has to match
  if (!origin || origin === 'null') return false;
  try {
    const u = new URL(origin);
    return u.origin !== new URL(publicUrl).origin && u.host !== req.get('host');
  } catch {
    return true;
  }
}

function sendPage(res: Response, page: { status: number; html: string }, result: LinkResult) {
  res.set({ 'Cache-Control': 'no-store', 'X-Robots-Tag': 'noindex, nofollow' });
  // the token sits in this page's URL: send a Referer (and so an Origin on the confirm POST) to ourselves only
  res.set('Referrer-Policy', result.kind === 'confirm' ? 'same-origin' : 'no-referrer');
  res.status(page.status).type('html').send(page.html);
}

function interactionPayload(raw: Buffer): { type?: unknown; actions?: { action_id?: unknown }[]; user?: { id?: unknown } } | null {
  const payload = new URLSearchParams(raw.toString('utf8')).get('payload');
  if (!payload) return null;
  try {
    const parsed: unknown = JSON.parse(payload);
    return parsed && typeof parsed === 'object' ? (parsed as ReturnType<typeof interactionPayload>) : null;
  } catch {
    return null;
  }
}

export function slackRoutes(d: SlackRouteDeps): AnyRoute[] {
  const audit = createRefusalAuditor(d.core);
  const routes: AnyRoute[] = [];
  const secret = d.signingSecret;
  if (secret) {
    routes.push(route({
      method: 'post', path: INTERACTIONS_PATH, tag: 'slack', auth: false,
      summary: 'Slack interactivity callbacks (v0-signed by Slack); link-button clicks are acknowledged',
      async handler({ req, res }) {
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const check = verifySlackSignature(secret, { signature: req.get(SIGNATURE_HEADER), timestamp: req.get(TIMESTAMP_HEADER) }, raw, d.core.clock.now());
        if (!check.ok) {
          await audit({ action: 'slack.signature_refused', reason: check.reason, details: { ip: req.ip ?? null, path: INTERACTIONS_PATH } });
          throw unauthenticated('request is not signed by Slack');
        }
        const payload = interactionPayload(raw);
        if (!payload) throw invalid('no interaction payload');
        // URL buttons (block_actions) only need the acknowledgement; the decision happens on the link page
        req.log?.debug({ slackInteraction: payload.type, actions: payload.actions?.map((a) => a.action_id), slackUser: payload.user?.id }, 'Slack interaction acknowledged');
        res.status(200).end();
        return undefined;
      },
    }));
  }
  const links = d.links;
  if (links) {
    const linkDeps: LinkDeps = { core: d.core, links, audit };
    routes.push(
      route({
        method: 'get', path: DECIDE_PATH, tag: 'slack', auth: false,
        summary: 'Approval link page (HTML): shows the request and the form by which its named approver signs in and decides; never decides',
        async handler({ req, res }) {
          const token = req.query.t;
          const result = await openLink(linkDeps, token, { ip: req.ip });
          sendPage(res, renderLinkPage(result, { publicUrl: d.publicUrl, token: typeof token === 'string' ? token : undefined }), result);
          return undefined;
        },
      }),
      route({
        method: 'post', path: DECIDE_PATH, tag: 'slack', auth: false,
        summary: 'Confirms an approval link (HTML form post with the page\'s CSRF value): decides once, only for the link\'s ' +
          'approver signed in on the page (their console session cookie, or their password) with a fresh MFA proof (the code field)',
        async handler({ req, res }) {
          const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
          const text = (v: unknown, max: number) => (typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : null);
          // the console session comes only with this same-origin form post (SameSite=Strict), never with Slack's cross-site visit
          const sessionToken = (req.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
          const password = typeof body.password === 'string' && body.password.length <= 1024 ? body.password : '';
          const result = await confirmLink(linkDeps, {
            token: body.t, csrf: body.csrf, comment: text(body.comment, 2000), code: text(body.code, 64), webauthn: text(body.webauthn, 16_000),
            credentials: { sessionToken: sessionToken || undefined, password: password || undefined },
          }, { ip: req.ip, crossSite: crossSite(req, d.publicUrl) });
          // a refused sign-in shows the form again, for the same link
          sendPage(res, renderLinkPage(result, { publicUrl: d.publicUrl, token: typeof body.t === 'string' ? body.t : undefined }), result);
          return undefined;
        },
      }),
      route({
        method: 'post', path: `${DECIDE_PATH}/options`, tag: 'slack', auth: false,
        summary: 'The approval link page\'s passkey challenge (form post with the link and the page\'s CSRF value): WebAuthn request ' +
          'options for the link\'s approver, bound to the request\'s content',
        async handler({ req, res }) {
          const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
          res.set('Cache-Control', 'no-store');
          return linkPasskeyOptions(linkDeps, { token: body.t, csrf: body.csrf }, { ip: req.ip, crossSite: crossSite(req, d.publicUrl) });
        },
      }),
      route({
        method: 'get', path: PASSKEY_SCRIPT_PATH, tag: 'slack', auth: false,
        summary: 'The approval link page\'s script (its passkey button)',
        handler({ res }) {
          res.set('Cache-Control', 'no-cache').type('text/javascript').send(PASSKEY_SCRIPT);
          return undefined;
        },
      }),
    );
  }
  return routes;
}
