/**
 * The pages a browser lands on when a single sign-on cannot complete: plain HTML (the sign-in is a
 * browser redirect, never an API call), one per refusal, each saying what happened and what to do.
 * Every value is escaped; no scripts.
 */
import type { OidcRefusalReason } from '../core/oidc-sign-in.js';
import type { OidcFlowError } from './oidc-flow.js';
import { escapeHtml } from './slack-pages.js';

const STYLE = `
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d1f23}
main{max-width:34rem;margin:3rem auto;padding:1rem}
.card{background:#fff;border-radius:12px;padding:1rem 1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12);border-left:5px solid #c62828}
h1{font-size:1.35rem;margin:.2rem 0 .8rem}.note{color:#5b616b;font-size:.9rem}
`;

const WHAT_TO_DO: Record<OidcRefusalReason | OidcFlowError['reason'], { title: string; advice: string }> = {
  unmapped: { title: 'You have no access to Portcullis', advice: 'Ask your administrator to add you to a group that gives a Portcullis role.' },
  disabled: { title: 'Your account is disabled', advice: 'Ask a Portcullis administrator to enable it.' },
  expired: { title: 'Your account has expired', advice: 'Ask a Portcullis administrator.' },
  username_taken: { title: 'This name is taken by another account', advice: 'A local Portcullis account has your username; hospital sign-in cannot take it over. Ask an administrator to rename one of them.' },
  incomplete_profile: { title: 'Your sign-in is missing something', advice: 'Ask the administrator of the identity provider to complete your profile.' },
  no_flow: { title: 'The sign-in could not be completed', advice: 'Start again from the login page, in this browser.' },
  state_mismatch: { title: 'The sign-in could not be completed', advice: 'Start again from the login page, in this browser.' },
  nonce_mismatch: { title: 'The sign-in could not be completed', advice: 'Start again from the login page, in this browser.' },
  provider_error: { title: 'The identity provider refused the sign-in', advice: 'Start again from the login page, or ask your administrator.' },
  invalid_response: { title: 'The sign-in could not be completed', advice: 'Start again from the login page; if it keeps failing, tell your administrator.' },
  provider_unreachable: { title: 'The identity provider cannot be reached', advice: 'Try again in a moment, or log in with a local account.' },
};

/** A refusal page: its title, what happened (the message) and what to do, with a way back to the login page. */
export function renderSignInRefusal(reason: OidcRefusalReason | OidcFlowError['reason'], message: string): string {
  const w = WHAT_TO_DO[reason];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(w.title)} — Portcullis</title><style>${STYLE}</style></head>
<body><main><div class="card" data-refusal="${escapeHtml(reason)}"><h1>${escapeHtml(w.title)}</h1>
<p>Sign-in refused: ${escapeHtml(message)}.</p><p>${escapeHtml(w.advice)}</p>
<p><a href="/login">Back to the login page</a></p></div></main></body></html>`;
}
