// "Prove it is you" with a second factor: a passkey (offered first when the user has one) or a code —
// six digits from the authenticator app, or one of the recovery codes. Used by the login's second step
// and by step-up before a decision; the caller says where the proof goes and what a passkey signs.
import { useState, type FormEvent } from 'react';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import type { MfaMethod, MfaProof } from '../api/types';
import { signWithPasskey } from '../lib/passkeys';
import { sentence } from './form-errors';
import { Field, useAction } from './ui';

/** A typed code as the proof it is: six digits are an authenticator code, anything else a recovery code. */
export function parseCode(typed: string, methods: MfaMethod[]): MfaProof | string {
  const compact = typed.replace(/\s+/g, '');
  if (/^\d{6}$/.test(compact) && methods.includes('totp')) return { code: compact };
  if (methods.includes('recovery') && compact.length >= 8) return { recoveryCode: typed.trim() };
  if (methods.includes('totp')) {
    return methods.includes('recovery')
      ? 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.'
      : 'Enter the 6-digit code from your authenticator app.';
  }
  return 'Enter one of your recovery codes.';
}

function codeLabel(methods: MfaMethod[]): string {
  const totp = methods.includes('totp');
  const recovery = methods.includes('recovery');
  if (totp && recovery) return 'Code from your authenticator app, or a recovery code';
  return totp ? 'Code from your authenticator app' : 'Recovery code';
}

/** What went wrong, for people: the broker's message or the passkey's, without a status prefix. */
export function ProofError({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return <div className="alert alert-bad" role="alert" data-testid="mfa-error">{sentence(message)}</div>;
}

export function MfaPrompt({ methods, passkeyOptions, submit, idPrefix = 'mfa', autoFocus = false }: {
  methods: MfaMethod[];
  /** a fresh challenge for the passkey to sign (only asked when the user picks the passkey) */
  passkeyOptions(): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /** sends the proof; throwing keeps the prompt open with the error shown */
  submit(proof: MfaProof): Promise<unknown>;
  idPrefix?: string;
  autoFocus?: boolean;
}) {
  const [typed, setTyped] = useState('');
  const { busy, error, run, setError } = useAction();
  const passkey = methods.includes('webauthn');
  const codes = methods.includes('totp') || methods.includes('recovery');

  const withPasskey = () =>
    void run(async () => {
      const webauthn = await signWithPasskey(await passkeyOptions());
      await submit({ webauthn });
    });

  const withCode = (e: FormEvent) => {
    e.preventDefault();
    const proof = parseCode(typed, methods);
    if (typeof proof === 'string') return setError(new Error(proof));
    void run(async () => {
      try {
        await submit(proof);
      } finally {
        setTyped('');
      }
    });
  };

  return (
    <div className="stack-tight mfa-prompt" data-testid="mfa-prompt">
      <ProofError error={error} />
      {passkey && (
        <button type="button" className="btn btn-primary btn-block" disabled={busy} onClick={withPasskey} autoFocus={autoFocus}>
          {busy ? 'Waiting for your passkey…' : 'Use a passkey'}
        </button>
      )}
      {passkey && codes && <p className="muted small or-line">or</p>}
      {codes && (
        <form className="form" onSubmit={withCode} aria-label="Enter a code">
          <Field label={codeLabel(methods)} htmlFor={`${idPrefix}-code`}
            hint={methods.includes('recovery') ? 'A recovery code works only once.' : undefined}>
            <input id={`${idPrefix}-code`} data-testid="mfa-code" autoComplete="one-time-code" inputMode={methods.includes('recovery') ? 'text' : 'numeric'}
              autoCapitalize="none" spellCheck={false} required maxLength={64} value={typed}
              autoFocus={autoFocus && !passkey} onChange={(e) => setTyped(e.target.value)} />
          </Field>
          <button type="submit" className={`btn ${passkey ? '' : 'btn-primary '}btn-block`} disabled={busy || !typed.trim()}>
            Confirm with code
          </button>
        </form>
      )}
    </div>
  );
}
