// The authenticator app (TOTP): set up with the broker's QR code or the secret typed in by hand, proven
// with a first code; removed after a step-up. The QR is the broker's SVG shown as an image (a data: URL
// in <img> runs no script and touches no page markup).
import { useState, type FormEvent } from 'react';
import { api, post } from '../api/client';
import type { MfaStatus, RecoveryCodes, TotpSetup } from '../api/types';
import { fmtTime } from '../lib/format';
import { FieldErrors } from './form-errors';
import { useStepUp } from './step-up';
import { Card, CopyButton, ErrorBox, Field, useAction } from './ui';

/** The secret in groups of four, as authenticator apps show it when typed in. */
const grouped = (secret: string) => secret.replace(/(.{4})/g, '$1 ').trim();

export function TotpCard({ status, onChange }: { status: MfaStatus; onChange(codes?: string[]): void }) {
  const [setup, setSetup] = useState<TotpSetup | null>(null);
  const [code, setCode] = useState('');
  const [removing, setRemoving] = useState(false);
  const { busy, error, run } = useAction();
  const stepUp = useStepUp();
  const enrolled = !!status.totp?.enrolled;

  const start = () => void run(async () => setSetup(await post<TotpSetup>('/api/me/mfa/totp')));

  const confirm = async (e: FormEvent) => {
    e.preventDefault();
    const r = await run(() => post<RecoveryCodes>('/api/me/mfa/totp/confirm', { code: code.replace(/\s+/g, '') }));
    setCode('');
    if (r) {
      setSetup(null);
      onChange(r.recoveryCodes);
    }
  };

  const remove = async () => {
    const ok = await run(() => stepUp.attempt(async (proof) => (await api('DELETE', '/api/me/mfa/totp', proof ? { stepUp: proof } : {}), true), {
      why: 'Removing your authenticator app needs a fresh confirmation that it is you.',
    }));
    setRemoving(false);
    if (ok) onChange();
  };

  return (
    <Card title="Authenticator app" actions={enrolled ? <span className="badge tone-ok">set up</span> : undefined}>
      <ErrorBox error={!setup ? error : null} />
      {enrolled && !setup && (
        <>
          <p>Set up {fmtTime(status.totp!.confirmedAt)}. Sign-ins and approvals accept the 6-digit code it shows.</p>
          {!removing ? (
            <button type="button" className="btn btn-ghost" onClick={() => setRemoving(true)}>Remove authenticator app…</button>
          ) : (
            <div className="form inset">
              <p>Codes from this app will stop working. You can set it up again afterwards.</p>
              <div className="form-actions">
                <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void remove()}>Remove</button>
                <button type="button" className="btn btn-ghost" disabled={busy} onClick={() => setRemoving(false)}>Cancel</button>
              </div>
            </div>
          )}
          {stepUp.prompt}
        </>
      )}
      {!enrolled && !setup && (
        <>
          <p className="muted">An app such as Google Authenticator, Microsoft Authenticator or 1Password shows a new 6-digit code every 30 seconds.</p>
          <button type="button" className="btn btn-primary" disabled={busy} onClick={start}>Set up an authenticator app</button>
        </>
      )}
      {setup && (
        <form className="form totp-setup" onSubmit={confirm} aria-label="Set up an authenticator app">
          <FieldErrors error={error}>
            <ErrorBox error={error} />
            <ol className="steps">
              <li>
                Scan this QR code with your authenticator app:
                <img className="totp-qr" data-testid="totp-qr" alt="QR code for your authenticator app"
                  src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qrSvg)}`} width={200} height={200} />
                <span className="muted small">Cannot scan it? Type in this key instead (time-based, 6 digits):</span>
                <span className="inline">
                  <code className="totp-secret" data-testid="totp-secret" data-secret={setup.secret}>{grouped(setup.secret)}</code>
                  <CopyButton text={setup.secret} label="Copy the key" />
                </span>
              </li>
              <li>
                <Field label="Enter the 6-digit code the app shows" htmlFor="totp-code" name="code">
                  <input id="totp-code" autoComplete="one-time-code" inputMode="numeric" pattern="[0-9 ]{6,7}" maxLength={7} required
                    value={code} onChange={(e) => setCode(e.target.value)} autoFocus />
                </Field>
              </li>
            </ol>
            <div className="form-actions">
              <button type="submit" className="btn btn-primary" disabled={busy || !code.trim()}>Confirm</button>
              <button type="button" className="btn btn-ghost" disabled={busy} onClick={() => setSetup(null)}>Cancel</button>
            </div>
          </FieldErrors>
        </form>
      )}
    </Card>
  );
}
