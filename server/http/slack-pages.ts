/**
 * The HTML pages behind Slack approval links: small, self-contained, readable on a phone; the only
 * script is the same-origin passkey button (slack-passkey-script.ts), and everything works without it.
 * Every value is escaped. The confirm page is the only one with a form,
 * and the form is the only thing that decides — for the approver the link names, signed in on the
 * page. Anyone else who opens the link reads the request and is told whom it is for.
 */
import { reviewUrl } from '../notify/slack-blocks.js';
import type { LinkResult, RefusalReason, SignInProblem } from '../notify/slack-decide.js';
import { PASSKEY_SCRIPT_PATH } from './slack-passkey-script.js';
import type { RequestView } from '../notify/slack-view.js';

export const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const utc = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const STYLE = `
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d1f23}
main{max-width:34rem;margin:0 auto;padding:1rem}
.card{background:#fff;border-radius:12px;padding:1rem 1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12);margin-bottom:1rem}
h1{font-size:1.35rem;margin:.2rem 0 .8rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem .9rem;margin:0}
dt{color:#5b616b}dd{margin:0;overflow-wrap:anywhere}
ul{padding-left:1.2rem}
textarea{width:100%;box-sizing:border-box;min-height:4.5rem;font:inherit;padding:.5rem;border:1px solid #c3c7cf;border-radius:8px}
button{display:block;width:100%;font:inherit;font-weight:600;padding:.9rem;border:0;border-radius:10px;color:#fff;margin-top:.8rem}
.approve{background:#1a7f37}.deny{background:#c62828}.passkey{background:#1d4ed8}
.note{color:#5b616b;font-size:.9rem}
.banner{border-left:5px solid #1a7f37}.banner.bad{border-color:#c62828}.banner.info{border-color:#5b616b}
label{display:block;margin-top:.7rem}
input[type=password],input[type=text]{width:100%;box-sizing:border-box;font:inherit;padding:.6rem;border:1px solid #c3c7cf;border-radius:8px}
`;

function page(title: string, body: string, script?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)} — Portcullis</title><style>${STYLE}</style>${script ? `<script src="${script}" defer></script>` : ''}</head>
<body><main>${body}</main></body></html>`;
}

function details(v: RequestView): string {
  const c = v.context;
  const window = c.kind === 'extension'
    ? `${c.durationMinutes} more minutes on the current grant`
    : `${c.startsAt ? `from ${utc(new Date(c.startsAt))}` : 'from when it is approved'}, for ${c.durationMinutes} minutes`;
  const rows: [string, string][] = [
    ['Device', c.device.name], ['Department', c.device.department], ['Criticality', c.device.criticality],
    ['Vendor', c.vendor?.name ?? 'no vendor'], ['Technician', `${c.technician.displayName} (${c.technician.username})`],
    ['Reason', c.reason], ['Ticket', c.ticketRef], ['Window', window],
    ['Approvals', `${c.approvalsSoFar} of ${c.approvalsRequired}`], ['Status', v.status],
  ];
  const decisions = v.decisions.length
    ? `<ul>${v.decisions.map((x) => `<li>${escapeHtml(x.approverName)} ${x.decision === 'approve' ? 'approved' : 'denied'} at ${utc(x.at)}` +
      `${x.comment ? `: “${escapeHtml(x.comment)}”` : ''}</li>`).join('')}</ul>`
    : '';
  return `<div class="card"><dl>${rows.map(([k, val]) => `<dt>${k}</dt><dd>${escapeHtml(val)}</dd>`).join('')}</dl>${decisions}</div>`;
}

const reviewLink = (publicUrl: string, requestId: string | null) =>
  requestId ? `<p><a rel="noreferrer" href="${escapeHtml(reviewUrl(publicUrl, requestId))}">Open the request in the web console</a></p>` : '';

const REFUSALS: Record<RefusalReason, { status: number; title: string; text: string }> = {
  invalid: { status: 400, title: 'This link is not valid', text: 'It may have been altered, or cut short when it was copied. Nothing was changed.' },
  expired: { status: 410, title: 'This link has expired', text: 'Approval links from Slack work for a short time only. Nothing was changed; decide in the web console instead.' },
  reused: { status: 409, title: 'This link has already been used', text: 'Each approval link works once. Nothing was changed.' },
  wrong_approver: { status: 403, title: 'This link cannot decide this request', text: 'It was issued to someone who is not an approver of this device\'s department. Nothing was changed.' },
  approver_disabled: { status: 403, title: 'This account is disabled', text: 'The approver this link was sent to can no longer decide. Nothing was changed.' },
  bad_csrf: { status: 403, title: 'The confirmation could not be verified', text: 'Open the link from Slack again and confirm on that page. Nothing was changed.' },
  cross_site: { status: 403, title: 'The confirmation was refused', text: 'It did not come from the Portcullis confirmation page. Nothing was changed.' },
};

/** A core error message ("invalid username or password") as a sentence. */
const sentence = (m: string) => `${m.charAt(0).toUpperCase()}${m.slice(1)}${/[.!?]$/.test(m) ? '' : '.'}`;

/** Why the confirm POST decided nothing, and what to do: the banner above the (read-only) request. */
function signInProblem(p: SignInProblem, approverName: string): { status: number; html: string } {
  const named = escapeHtml(approverName);
  const banner = (title: string, text: string) => `<div class="card banner bad"><h1>${title}</h1><p>${text}</p></div>`;
  switch (p.reason) {
    case 'not_signed_in':
      return { status: 401, html: banner('Sign in to decide', `Nothing was decided: this link decides only for ${named}, signed in on this page. ` +
        `Enter ${named}'s password and code below, or ask ${named} to open the link.`) };
    case 'someone_else':
      return { status: 403, html: banner('This link is not yours', `You are signed in as ${escapeHtml(p.signedIn.displayName)} (${escapeHtml(p.signedIn.username)}), ` +
        `but this link was issued to ${named}. Nothing was decided; the request is shown below, read-only. Only ${named}, signed in on this page, can decide with it; ` +
        'if you approve this device\'s requests yourself, open the request in the web console.') };
    case 'own_request':
      return { status: 403, html: banner('You cannot decide on your own request', `You are signed in as ${escapeHtml(p.signedIn.displayName)} (${escapeHtml(p.signedIn.username)}), ` +
        `who asked for this access. Nothing was decided. Only ${named}, signed in on this page, can decide with this link.`) };
    case 'sign_in_failed':
      return { status: 401, html: banner('Sign-in failed', `${escapeHtml(sentence(p.message))} Nothing was decided.`) };
    case 'step_up_required':
      return { status: 401, html: banner('Confirm it is you', `${escapeHtml(sentence(p.message))} Enter the code from your authenticator app (or a recovery code) ` +
        'with the button below. Nothing was decided yet.') };
    case 'step_up_failed':
      return { status: 401, html: banner('Your confirmation was not accepted', `${escapeHtml(sentence(p.message))} Nothing was decided.`) };
  }
}

/** The page (and HTTP status) for the outcome of opening or confirming a link. */
export function renderLinkPage(result: LinkResult, opts: { publicUrl: string; token?: string }): { status: number; html: string } {
  switch (result.kind) {
    case 'refused': {
      const r = REFUSALS[result.reason];
      return { status: r.status, html: page(r.title, `<div class="card banner bad"><h1>${r.title}</h1><p>${r.text}</p></div>${reviewLink(opts.publicUrl, result.requestId)}`) };
    }
    case 'settled':
      return {
        status: 409,
        html: page('Nothing to decide', `<div class="card banner info"><h1>Nothing to decide</h1><p>${escapeHtml(result.message)}</p></div>` +
          `${details(result.view)}${reviewLink(opts.publicUrl, result.view.context.requestId)}`),
      };
    case 'confirm': {
      const c = result.view.context;
      const approve = result.action === 'approve';
      const verb = approve ? 'Approve' : 'Deny';
      const who = result.approver;
      const problem = result.problem ? signInProblem(result.problem, who.displayName) : null;
      const password = who.sso
        ? `<p class="note">${escapeHtml(who.displayName)} signs in through the hospital's identity provider: sign in to the web console in this browser first, then press the button.</p>`
        : `<label for="password">Password of ${escapeHtml(who.username)}</label>
<input type="password" id="password" name="password" autocomplete="current-password" maxlength="1024">`;
      const buttonText = `${verb} access for ${escapeHtml(c.technician.displayName)} on ${escapeHtml(c.device.name)}`;
      // shown by the page's script when the browser can use a passkey
      const passkey = result.passkey
        ? `<button type="button" id="passkey" class="passkey" hidden>${verb} with a passkey of ${escapeHtml(who.displayName)}</button>
<p id="passkey-status" class="note" role="status" aria-live="polite"></p><p class="note">Or sign in with a password and a code:</p>`
        : '';
      const form = `<form method="post" action="/slack/decide" class="card" id="decide">
<p>Only <strong>${escapeHtml(who.displayName)}</strong> can decide with this link, signed in on this page. Already signed in to the web console in this browser as ${escapeHtml(who.displayName)}? Leave the password empty.</p>
<input type="hidden" name="t" value="${escapeHtml(opts.token ?? '')}"><input type="hidden" name="csrf" value="${escapeHtml(result.csrf)}">
<input type="hidden" name="webauthn" value="">
<label for="comment">Comment${approve ? ' (optional)' : ''}</label>
<textarea id="comment" name="comment" maxlength="2000"></textarea>
${passkey}
${password}
<label for="code">Code from your authenticator app, or a recovery code</label>
<input type="text" id="code" name="code" autocomplete="one-time-code" autocapitalize="off" spellcheck="false" maxlength="64">
<button type="submit" class="${approve ? 'approve' : 'deny'}">${buttonText}</button>
</form>`;
      return {
        status: problem?.status ?? 200,
        html: page(`${verb} access?`, `${problem?.html ?? ''}<h1>${verb} access to ${escapeHtml(c.device.name)}?</h1>${details(result.view)}${form}` +
          `<p class="note">Link issued to ${escapeHtml(who.displayName)}; it works once and expires at ${utc(result.expiresAt)}. ` +
          `Nothing is decided until ${escapeHtml(who.displayName)} presses the button, signed in.</p>${reviewLink(opts.publicUrl, c.requestId)}`,
          result.passkey ? PASSKEY_SCRIPT_PATH : undefined),
      };
    }
    case 'decided': {
      const v = result.view;
      const verb = result.action === 'approve' ? 'approved' : 'denied';
      const state = v.status === 'pending'
        ? `${v.context.approvalsSoFar} of ${v.context.approvalsRequired} approvals so far; the request is waiting for more.`
        : v.status === 'approved' && v.grant
          ? `Access is granted from ${utc(v.grant.startsAt)} to ${utc(v.grant.endsAt)}.`
          : `The request is now ${v.status}.`;
      return {
        status: 200,
        html: page(`You ${verb} the request`, `<div class="card banner${result.action === 'deny' ? ' bad' : ''}"><h1>You ${verb} the request</h1>` +
          `<p>${escapeHtml(state)}</p></div>${details(v)}${reviewLink(opts.publicUrl, v.context.requestId)}`),
      };
    }
  }
}
