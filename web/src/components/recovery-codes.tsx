// Recovery codes: the broker shows a new set exactly once (it keeps only their hashes). The panel stays
// until the user says they stored them, and offers copying and a text file; the card counts what is left
// and makes a new set (which ends the old one) after a step-up.
import { useState } from 'react';
import { post } from '../api/client';
import type { MfaStatus } from '../api/types';
import { useStepUp } from './step-up';
import { Card, CopyButton, ErrorBox, useAction } from './ui';

/** A new set of recovery codes, shown once. */
export function RecoveryCodesShown({ codes, onStored }: { codes: string[]; onStored(): void }) {
  const text = codes.join('\n');
  const file = `data:text/plain;charset=utf-8,${encodeURIComponent(`Portcullis recovery codes (each works once)\n\n${text}\n`)}`;
  return (
    <div className="card recovery-codes" role="region" aria-labelledby="recovery-title" data-testid="recovery-codes">
      <h2 id="recovery-title">Store your recovery codes now</h2>
      <div className="alert alert-warn">
        <strong>They are shown only this once.</strong> Each code signs you in once if you lose your passkey or
        authenticator app. Keep them somewhere safe and apart from this device — a password manager or a printed copy.
      </div>
      <ol className="recovery-list mono" data-testid="recovery-code-list">
        {codes.map((c) => <li key={c}>{c}</li>)}
      </ol>
      <div className="form-actions">
        <CopyButton text={text} label="Copy the recovery codes" />
        <a className="btn btn-small" href={file} download="portcullis-recovery-codes.txt">Download as a file</a>
        <button type="button" className="btn btn-primary" onClick={onStored}>I have stored these codes</button>
      </div>
    </div>
  );
}

/** How many recovery codes are left, and a new set on request. */
export function RecoveryCodesCard({ status, onNewCodes }: { status: MfaStatus; onNewCodes(codes: string[]): void }) {
  const { busy, error, run } = useAction();
  const stepUp = useStepUp();
  const [asked, setAsked] = useState(false);
  const left = status.recoveryCodesLeft;
  const regenerate = async () => {
    const r = await run(() => stepUp.attempt((proof) => post<{ recoveryCodes: string[] }>('/api/me/mfa/recovery-codes', proof ? { stepUp: proof } : {}), {
      why: 'Making new recovery codes ends the old ones: confirm it is you first.',
    }));
    setAsked(false);
    if (r?.recoveryCodes) onNewCodes(r.recoveryCodes);
  };
  return (
    <Card title="Recovery codes">
      <ErrorBox error={error} />
      <p data-testid="recovery-left">
        {left === 0 ? <strong className="tone-text-bad">You have no recovery codes left.</strong> : <>You have <strong>{left}</strong> unused recovery code{left === 1 ? '' : 's'}.</>}
        {left > 0 && left <= 3 && <span className="tone-text-warn"> Make a new set soon.</span>}
      </p>
      {!asked ? (
        <button type="button" className="btn" disabled={busy} onClick={() => setAsked(true)}>Make new recovery codes…</button>
      ) : (
        <div className="form inset">
          <p>Your current recovery codes stop working the moment the new ones are made.</p>
          <div className="form-actions">
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void regenerate()}>Make new codes</button>
            <button type="button" className="btn btn-ghost" disabled={busy} onClick={() => setAsked(false)}>Cancel</button>
          </div>
        </div>
      )}
      {stepUp.prompt}
    </Card>
  );
}
