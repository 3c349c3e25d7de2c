import { useState, type FormEvent } from 'react';
import { FieldErrors } from '../components/form-errors';
import { ErrorBox, Field, Page, useAction } from '../components/ui';
import { useTitle } from '../lib/hooks';
import { useSession } from '../lib/session';

const MIN_LENGTH = 12;

/** The fields and the check they share: the current password, the new one twice. */
function PasswordForm({ submitLabel, block = false }: { submitLabel: string; block?: boolean }) {
  const { changePassword } = useSession();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [done, setDone] = useState(false);
  const { busy, error, run } = useAction();

  const mismatch = repeat.length > 0 && next !== repeat;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (next !== repeat) return;
    await run(async () => {
      await changePassword(current, next);
      setCurrent('');
      setNext('');
      setRepeat('');
      setDone(true);
    });
  };

  return (
    <form className="form" onSubmit={submit} aria-label="Change password">
      <FieldErrors error={error}>
        <ErrorBox error={error} />
        {done && <div className="alert alert-ok" role="status">Password changed. Your other sessions have been logged out.</div>}
        <Field label="Current password" htmlFor="pw-current" name="currentPassword">
          <input id="pw-current" type="password" autoComplete="current-password" required value={current}
            onChange={(e) => (setCurrent(e.target.value), setDone(false))} />
        </Field>
        <Field label="New password" htmlFor="pw-new" name="newPassword" hint={`At least ${MIN_LENGTH} characters; a passphrase of several words is easy to type and hard to guess.`}>
          <input id="pw-new" type="password" autoComplete="new-password" required minLength={MIN_LENGTH} maxLength={256} value={next}
            onChange={(e) => setNext(e.target.value)} />
        </Field>
        <Field label="Repeat the new password" htmlFor="pw-repeat" hint={mismatch ? <span className="tone-text-bad">The two new passwords differ.</span> : undefined}>
          <input id="pw-repeat" type="password" autoComplete="new-password" required value={repeat}
            aria-invalid={mismatch} onChange={(e) => setRepeat(e.target.value)} />
        </Field>
        <button className={`btn btn-primary${block ? ' btn-block' : ''}`} type="submit" disabled={busy || mismatch}>
          {busy ? 'Changing…' : submitLabel}
        </button>
      </FieldErrors>
    </form>
  );
}

/** The account page: any logged-in user changes their own password. */
export function ChangePasswordPage() {
  return (
    <Page title="Change password" subtitle="Changing your password logs you out everywhere else.">
      <div className="card" style={{ maxWidth: 480 }}>
        <PasswordForm submitLabel="Change password" />
      </div>
    </Page>
  );
}

/** Shown instead of the console while the password is one someone else chose. */
export function FirstPasswordPage() {
  useTitle('Choose your password');
  const { user, logout } = useSession();
  return (
    <main className="login">
      <div className="card login-card" data-testid="first-password">
        <div className="brand login-brand">
          <span className="brand-mark" aria-hidden="true">▦</span> Portcullis
        </div>
        <h1>Choose your password</h1>
        <p className="muted">
          {user?.displayName ?? 'You'}, the password you logged in with was set by someone else. Choose your own to continue.
        </p>
        <PasswordForm submitLabel="Set my password" block />
        <button type="button" className="btn btn-ghost btn-block" onClick={() => void logout()}>Log out</button>
      </div>
    </main>
  );
}
