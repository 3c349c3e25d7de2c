// A device's host key and the key it presented instead (§8.4): shown side by side with their
// fingerprints, and the re-pin an approver of the device (or an admin) confirms after comparing the new
// fingerprint with the device's own console. The confirmation names the fingerprint shown, so the
// broker refuses it if the device's key changed again meanwhile.
import { useState } from 'react';
import { post } from '../api/client';
import type { HostKeyStatus } from '../api/types';
import { fmtTimeSec } from '../lib/format';
import { useApi } from '../lib/hooks';
import { useStepUp } from './step-up';
import { Card, CopyBlock, ErrorBox, KV, Loading, useAction } from './ui';

/** fingerprints are one long word: let them wrap in narrow cards */
const BREAK = { wordBreak: 'break-all' } as const;

const seenByText = (s: HostKeyStatus) => {
  const by = s.pending?.firstSeenBy;
  if (!by) return '';
  if (by.kind === 'session') return `a technician's connection (grant ${by.grantId.slice(0, 8)})`;
  return by.kind === 'rotation' ? 'the credential rotation' : 'a connection test';
};

/** The pinned key beside the pending one, with the re-pin confirmation when the caller may give it. */
export function HostKeyChangeView({ status, onRepinned }: { status: HostKeyStatus; onRepinned(s: HostKeyStatus): void }) {
  const { busy, error, run } = useAction();
  const [compared, setCompared] = useState(false);
  const pending = status.pending;
  const stepUp = useStepUp();
  const repin = async () => {
    if (!pending) return;
    // the broker asks for a fresh second factor when the last one is older than STEP_UP_SECONDS
    const r = await run(() => stepUp.attempt((proof) => post<HostKeyStatus>(`/api/devices/${status.deviceId}/host-key/repin`,
      proof ? { fingerprint: pending.fingerprint, stepUp: proof } : { fingerprint: pending.fingerprint }),
    { why: 'To trust the new host key, confirm it is you with your second factor.' }));
    if (r) onRepinned(r);
  };
  if (!pending) {
    return (
      <div className="stack" data-testid="host-key-change">
        <KV items={[
          ['Type', <span key="t" className="mono">{status.pinned?.keyType ?? '—'}</span>],
          ['Fingerprint', <span key="f" className="mono" style={BREAK} data-testid="pinned-fingerprint">{status.pinned?.fingerprint ?? 'none pinned'}</span>],
        ]} />
        <p className="muted small">A device presenting another key is refused; the key it presented then shows here, beside this one, for a re-pin.</p>
      </div>
    );
  }
  return (
    <div className="stack" data-testid="host-key-change">
      {pending && (
        <div className="alert alert-bad">
          The device presented another host key; connections to it are refused until the new key is re-pinned. Re-pin only if the
          device was re-imaged or its key replaced on purpose, after comparing the new fingerprint with the device's own console.
        </div>
      )}
      <div className="table-wrap">
        <table className="table">
          <thead><tr><th></th><th>Pinned key</th>{pending && <th>Presented instead</th>}</tr></thead>
          <tbody>
            <tr>
              <th scope="row">Type</th>
              <td className="mono">{status.pinned?.keyType ?? '—'}</td>
              {pending && <td className="mono">{pending.keyType}</td>}
            </tr>
            <tr>
              <th scope="row">Fingerprint</th>
              <td className="mono" style={BREAK} data-testid="pinned-fingerprint">{status.pinned?.fingerprint ?? 'none pinned'}</td>
              {pending && <td className="mono" style={BREAK} data-testid="pending-fingerprint">{pending.fingerprint}</td>}
            </tr>
            {pending && (
              <tr>
                <th scope="row">Seen</th>
                <td>—</td>
                <td>first {fmtTimeSec(pending.firstSeenAt)} by {seenByText(status)}; {pending.timesSeen}× (last {fmtTimeSec(pending.lastSeenAt)})</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {pending && <CopyBlock label="Presented public key" text={pending.publicKey} />}
      {pending && status.canRepin && (
        <div className="form">
          <ErrorBox error={error} />
          <label><input type="checkbox" checked={compared} onChange={(e) => setCompared(e.target.checked)} /> I compared {pending.fingerprint} with the device's console</label>
          <button type="button" className="btn btn-danger" disabled={busy || !compared} onClick={repin}>{busy ? 'Re-pinning…' : 'Re-pin the new host key'}</button>
          {stepUp.prompt}
        </div>
      )}
      {pending && !status.canRepin && <p className="muted small">An approver of the device's department, or an admin, confirms the re-pin.</p>}
    </div>
  );
}

/** The device page's host key card: the pin, and a pending change to confirm. */
export function HostKeyCard({ deviceId, onRepinned }: { deviceId: string; onRepinned(): void }) {
  const status = useApi<HostKeyStatus>(`/api/devices/${deviceId}/host-key`);
  return (
    <Card title="Host key">
      <ErrorBox error={status.error} />
      {status.loading && !status.data && <Loading />}
      {status.data && <HostKeyChangeView status={status.data} onRepinned={onRepinned} />}
    </Card>
  );
}
