// Passkeys: the user's list (name, added, last used), a new one registered in this browser, one removed.
// The broker checks the registration; the console only carries the options and the response.
import { useState, type FormEvent } from 'react';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/browser';
import { api, post } from '../api/client';
import type { MfaStatus, Passkey, RecoveryCodes } from '../api/types';
import { fmtTime } from '../lib/format';
import { createPasskey, passkeysSupported } from '../lib/passkeys';
import { ProofError } from './mfa-prompt';
import { useStepUp } from './step-up';
import { Card, Empty, Field, useAction } from './ui';

export function PasskeysCard({ status, onChange }: { status: MfaStatus; onChange(codes?: string[]): void }) {
  const [name, setName] = useState('');
  const { busy, error, run } = useAction();

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const label = name.trim() || undefined;
    const r = await run(async () => {
      const optionsJSON = await post<PublicKeyCredentialCreationOptionsJSON>('/api/me/webauthn/register/options', label ? { name: label } : {});
      const response = await createPasskey(optionsJSON);
      return post<{ passkey: Passkey } & RecoveryCodes>('/api/me/webauthn/register/verify', label ? { response, name: label } : { response });
    });
    if (r) {
      setName('');
      onChange(r.recoveryCodes);
    }
  };

  return (
    <Card title="Passkeys" actions={status.passkeys.length ? <span className="badge tone-ok">{status.passkeys.length} set up</span> : undefined}>
      <p className="muted">A passkey lives on this computer or phone (or a security key) and is unlocked with your fingerprint, face or PIN. It is the quickest way to confirm approvals.</p>
      {!status.passkeys.length ? <Empty>No passkey yet.</Empty> : (
        <ul className="passkeys" data-testid="passkeys">
          {status.passkeys.map((p) => <PasskeyRow key={p.id} passkey={p} onRemoved={() => onChange()} />)}
        </ul>
      )}
      {passkeysSupported() ? (
        <form className="inline-form add-passkey" onSubmit={add} aria-label="Add a passkey">
          <Field label="Name for the new passkey" htmlFor="passkey-name" hint="So you can tell them apart later, e.g. “work laptop”.">
            <input id="passkey-name" maxLength={100} value={name} placeholder="Passkey" onChange={(e) => setName(e.target.value)} />
          </Field>
          <button type="submit" className="btn btn-primary" disabled={busy}>{busy ? 'Waiting for your passkey…' : 'Add a passkey'}</button>
        </form>
      ) : (
        <p className="alert alert-info">This browser cannot create passkeys. Use an authenticator app, or add a passkey from another browser.</p>
      )}
      <ProofError error={error} />
    </Card>
  );
}

function PasskeyRow({ passkey: p, onRemoved }: { passkey: Passkey; onRemoved(): void }) {
  const [asked, setAsked] = useState(false);
  const { busy, error, run } = useAction();
  const stepUp = useStepUp();
  const remove = async () => {
    const ok = await run(() => stepUp.attempt(async (proof) => (await api('DELETE', `/api/me/webauthn/${encodeURIComponent(p.id)}`, proof ? { stepUp: proof } : {}), true), {
      why: `Removing the passkey “${p.name}” needs a fresh confirmation that it is you.`,
    }));
    setAsked(false);
    if (ok) onRemoved();
  };
  return (
    <li className="passkey" data-testid="passkey">
      <div>
        <strong>{p.name}</strong>
        <div className="muted small">added {fmtTime(p.createdAt)} · {p.lastUsedAt ? `last used ${fmtTime(p.lastUsedAt)}` : 'not used yet'}</div>
      </div>
      {!asked ? (
        <button type="button" className="btn btn-small btn-ghost" onClick={() => setAsked(true)} aria-label={`Remove passkey ${p.name}`}>Remove…</button>
      ) : (
        <span className="inline">
          <button type="button" className="btn btn-small btn-danger" disabled={busy} onClick={() => void remove()}>Remove “{p.name}”</button>
          <button type="button" className="btn btn-small btn-ghost" disabled={busy} onClick={() => setAsked(false)}>Keep</button>
        </span>
      )}
      <ProofError error={error} />
      {stepUp.prompt}
    </li>
  );
}
