// The page an invitation link opens (/invite/<token>), signed in or not: who it is for, then a
// password twice. Accepting signs the new account in; the console then reloads at its start, where a
// role that needs a second factor is sent to set one up (MFA enrolment) before anything else.
import { useState, type FormEvent } from 'react';
import { post } from '../api/client';
import type { InvitationView, User } from '../api/types';
import { FieldErrors } from '../components/form-errors';
import { ErrorBox, Field, KV, Loading, useAction } from '../components/ui';
import { fmtTime } from '../lib/format';
import { useApi, useTitle } from '../lib/hooks';

export const INVITE_PATH = '/invite/:token';
const MIN_LENGTH = 12;

export function InvitePage({ token }: { token: string }) {
  useTitle('Accept your invitation');
  const invitation = useApi<InvitationView>(`/api/invitations/accept/${encodeURIComponent(token)}`);
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const { busy, error, run } = useAction();
  const mismatch = repeat.length > 0 && password !== repeat;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password !== repeat) return;
    const done = await run(() => post<{ user: User }>('/api/invitations/accept', { token, password }));
    // the session cookie is set: start the console afresh as the new user
    if (done) window.location.assign('/');
  };

  const v = invitation.data;
  return (
    <main className="login">
      <div className="card login-card" data-testid="invite">
        <div className="brand login-brand">
          <span className="brand-mark" aria-hidden="true">▦</span> Portcullis
        </div>
        <h1>Accept your invitation</h1>
        {invitation.loading && <Loading />}
        {invitation.error != null && (
          <>
            <ErrorBox error={invitation.error} />
            <p className="muted">Ask the administrator who invited you for a new link.</p>
          </>
        )}
        {v && (
          <form className="form" onSubmit={submit} aria-label="Set your password">
            <KV items={[['Name', v.displayName], ['Username', <code key="u">{v.username}</code>], ['Vendor', v.vendor.name],
              ['Account ends', fmtTime(v.accountExpiresAt)], ['Link works until', fmtTime(v.expiresAt)]]} />
            <FieldErrors error={error}>
              <ErrorBox error={error} />
              <Field label="Choose a password" htmlFor="inv-pw" name="password" hint={`At least ${MIN_LENGTH} characters; a passphrase of several words is easy to type and hard to guess.`}>
                <input id="inv-pw" type="password" autoComplete="new-password" required minLength={MIN_LENGTH} maxLength={256}
                  value={password} onChange={(e) => setPassword(e.target.value)} autoFocus />
              </Field>
              <Field label="Repeat the password" htmlFor="inv-pw2" hint={mismatch ? <span className="tone-text-bad">The two passwords differ.</span> : undefined}>
                <input id="inv-pw2" type="password" autoComplete="new-password" required value={repeat} aria-invalid={mismatch}
                  onChange={(e) => setRepeat(e.target.value)} />
              </Field>
              <button className="btn btn-primary btn-block" type="submit" disabled={busy || mismatch}>
                {busy ? 'Setting up…' : 'Set password and continue'}
              </button>
              <p className="muted">Next you may be asked to set up a second factor (an authenticator app or a passkey).</p>
            </FieldErrors>
          </form>
        )}
      </div>
    </main>
  );
}
