import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
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
  const { busy, error, run } = useAction();
  const locked = error instanceof ApiError && error.status === 429 && typeof error.details.retryAt === 'string' ? error.details.retryAt : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      await login(username.trim(), password);
      const next = search.get('next');
      // only a path on this site: never an absolute URL someone put in the link
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
    });
  };

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
