/**
 * The HTML pages behind Slack approval links: small, self-contained, readable on a phone, no scripts
 * (the CSP forbids them anyway). Every value is escaped. The confirm page is the only one with a form,
 * and the form is the only thing that decides.
 */
import { reviewUrl } from '../notify/slack-blocks.js';
import type { LinkResult, RefusalReason } from '../notify/slack-decide.js';
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
.approve{background:#1a7f37}.deny{background:#c62828}
.note{color:#5b616b;font-size:.9rem}
.banner{border-left:5px solid #1a7f37}.banner.bad{border-color:#c62828}.banner.info{border-color:#5b616b}
`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)} — Portcullis</title><style>${STYLE}</style></head>
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
      const form = `<form method="post" action="/slack/decide" class="card">
<input type="hidden" name="t" value="${escapeHtml(opts.token ?? '')}"><input type="hidden" name="csrf" value="${escapeHtml(result.csrf)}">
<label for="comment">Comment${approve ? ' (optional)' : ''}</label>
<textarea id="comment" name="comment" maxlength="2000"></textarea>
<button type="submit" class="${approve ? 'approve' : 'deny'}">${verb} access for ${escapeHtml(c.technician.displayName)} on ${escapeHtml(c.device.name)}</button>
</form>`;
      return {
        status: 200,
        html: page(`${verb} access?`, `<h1>${verb} access to ${escapeHtml(c.device.name)}?</h1>${details(result.view)}${form}` +
          `<p class="note">Link issued to ${escapeHtml(result.approver.displayName)}; it works once and expires at ${utc(result.expiresAt)}. ` +
          `Nothing is decided until you press the button.</p>${reviewLink(opts.publicUrl, c.requestId)}`),
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
