// The login form. A user with a second factor signs in in two steps: the password first, then a
// passkey (preferred) or a code; the broker sets the session only after the second.
import { useState, type FormEvent } from 'react';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import { ApiError, post } from '../api/client';
import type { MfaChallenge } from '../api/types';
import { MfaPrompt } from '../components/mfa-prompt';
import { SsoSignIn } from '../components/sso-sign-in';
import { ErrorBox, Field, useAction } from '../components/ui';
import { fmtClock, fmtCountdown, fmtTime } from '../lib/format';
import { useNow, useTitle } from '../lib/hooks';
import { navigate, useLocation } from '../lib/router';
import { useSession } from '../lib/session';

export function LoginPage() {
  useTitle('Log in');
  const { login, notice } = useSession();
  const { search } = useLocation();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [challenge, setChallenge] = useState<MfaChallenge | null>(null);
  const { busy, error, run } = useAction();
  const locked = error instanceof ApiError && error.status === 429 && typeof error.details.retryAt === 'string' ? error.details.retryAt : null;

  const proceed = () => {
    const next = search.get('next');
    // only a path on this site: never an absolute URL someone put in the link
    navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      const mfa = await login(username.trim(), password);
      if (mfa) {
        setPassword('');
        setChallenge(mfa);
      } else proceed();
    });
  };

  if (challenge) return <SecondStep challenge={challenge} onDone={proceed} onRestart={() => setChallenge(null)} />;

  return (
    <main className="login">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="brand login-brand">
          <span className="brand-mark" aria-hidden="true">▦</span> Portcullis
        </div>
        <h1 id="login-title">Log in</h1>
        <p className="muted">Just-in-time access to medical devices. Every session is recorded.</p>
        {notice && <div className="alert alert-warn">{notice}</div>}
        {locked ? <LockedNotice retryAt={locked} /> : <ErrorBox error={error} />}
        <SsoSignIn next={search.get('next')} />
        <Field label="Username" htmlFor="username">
          <input id="username" name="username" autoComplete="username" autoCapitalize="none" spellCheck={false} required
            value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </Field>
        <Field label="Password" htmlFor="password">
          <input id="password" name="password" type="password" autoComplete="current-password" required
            value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}

/** The login's second step: the password was right, now a passkey or a code. */
function SecondStep({ challenge, onDone, onRestart }: { challenge: MfaChallenge; onDone(): void; onRestart(): void }) {
  useTitle('Confirm it is you');
  const { completeMfa } = useSession();
  // the options that came with the password's answer serve the first try; a retry asks for a fresh challenge
  const [inline, setInline] = useState(challenge.webauthnOptions);
  const passkeyOptions = async () => {
    if (inline) {
      setInline(undefined);
      return inline;
    }
    return post<PublicKeyCredentialRequestOptionsJSON>('/api/auth/login/webauthn/options', { mfaToken: challenge.mfaToken });
  };
  return (
    <main className="login">
      <div className="card login-card" data-testid="login-second-step">
        <div className="brand login-brand">
          <span className="brand-mark" aria-hidden="true">▦</span> Portcullis
        </div>
        <h1>Confirm it is you</h1>
        <p className="muted">
          {challenge.methods.includes('webauthn')
            ? challenge.methods.includes('totp') ? 'Use your passkey, or enter a code from your authenticator app.' : 'Use your passkey.'
            : 'Enter the code your authenticator app shows now.'}
          {challenge.methods.includes('recovery') ? ' Without it at hand, one of your recovery codes works once.' : ''}
        </p>
        <MfaPrompt methods={challenge.methods} idPrefix="login-mfa" autoFocus passkeyOptions={passkeyOptions}
          submit={async (proof) => {
            await completeMfa(challenge.mfaToken, proof);
            onDone();
          }} />
        <button type="button" className="btn btn-ghost btn-block" onClick={onRestart}>Start again with your password</button>
      </div>
    </main>
  );
}

/** A throttled or locked login: until when, in the reader's time, and what to do meanwhile. */
function LockedNotice({ retryAt }: { retryAt: string }) {
  const now = useNow(1000);
  const left = new Date(retryAt).getTime() - now;
  const sameDay = new Date(retryAt).toDateString() === new Date(now).toDateString();
  return (
    <div className="alert alert-bad" role="alert" data-testid="login-locked">
      <strong>Too many failed login attempts.</strong>{' '}
      {left > 0
        ? <>You can try again at <time dateTime={retryAt}>{sameDay ? fmtClock(retryAt) : fmtTime(retryAt)}</time> (in {fmtCountdown(left)}).</>
        : <>You can try again now.</>}
      {' '}An administrator can unlock your account sooner.
    </div>
  );
}
