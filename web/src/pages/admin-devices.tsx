import { useState, type FormEvent } from 'react';
import { patch, post } from '../api/client';
import { LIFECYCLE_STATES, type AuditEvent, type Device, type HostKeyStatus, type Items, type LifecycleState } from '../api/types';
import { credentialComplete, credentialOf, CredentialFields, DeviceFields, draftOf, emptyCredential, recordOf, type CredentialDraft, type DeviceDraft } from './device-form';
import { credentialKindText, CurrentCredential } from '../components/credential-setup';
import { HostKeyCard } from '../components/host-key-change';
import { FieldErrors } from '../components/form-errors';
import { TrustRecord } from '../components/trust-record';
import { Badge, Card, Empty, ErrorBox, Field, Loading, Page, useAction } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtTimeSec } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link, navigate, useLocation } from '../lib/router';

const NEXT: Record<LifecycleState, LifecycleState[]> = {
  staged: ['deployed', 'retired'],
  deployed: ['suspended', 'retired'],
  suspended: ['deployed', 'retired'],
  retired: [],
};

export function AdminDevicesPage() {
  const dir = useDirectory();
  const { search } = useLocation();
  const state = search.get('state') ?? '';
  const devices = useApi<Items<Device>>('/api/devices', { state });
  const hostKeys = useApi<Items<HostKeyStatus>>('/api/host-key-changes');
  return (
    <Page title="Manage devices" subtitle="Enroll devices, keep their trust records, and move them through their lifecycle."
      actions={<><Link to="/reports/credentials" className="btn">Credentials report</Link><Link to="/admin/devices/new" className="btn btn-primary">Enroll a device</Link></>}>
      <div className="chips">
        {['', ...LIFECYCLE_STATES].map((s) => (
          <Link key={s} to={s ? `/admin/devices?state=${s}` : '/admin/devices'} className={`chip ${s === state ? 'on' : ''}`}>{s || 'all'}</Link>
        ))}
      </div>
      {!!hostKeys.data?.items.length && (
        <div className="alert alert-bad" data-testid="host-key-alert">
          Another host key than the pinned one was presented by{' '}
          {hostKeys.data.items.map((h, i) => <span key={h.deviceId}>{i > 0 && ', '}<Link to={`/admin/devices/${h.deviceId}`} className="mono">{h.deviceName}</Link></span>)}:
          connections are refused until the new key is compared and re-pinned.
        </div>
      )}
      <ErrorBox error={devices.error} />
      {devices.loading && <Loading />}
      {devices.data && !devices.data.items.length && <Empty>No device{state ? ` is ${state}` : ' yet'}.</Empty>}
      {!!devices.data?.items.length && (
        <div className="table-wrap">
          <table className="table" data-testid="devices">
            <thead>
              <tr><th>Name</th><th>Model</th><th>Department</th><th>Criticality</th><th>State</th><th>Credential</th><th>Vendors</th></tr>
            </thead>
            <tbody>
              {devices.data.items.map((d) => (
                <tr key={d.id}>
                  <td data-label="Name" className="mono"><Link to={`/admin/devices/${d.id}`}>{d.name}</Link></td>
                  <td data-label="Model">{d.manufacturer} {d.model}</td>
                  <td data-label="Department">{d.department}</td>
                  <td data-label="Criticality"><Badge value={d.criticality} /></td>
                  <td data-label="State"><Badge value={d.lifecycleState} /></td>
                  <td data-label="Credential">
                    {d.hasCredential ? credentialKindText(d.credentialKind).replace(/ \(.*\)$/, '') : <span className="tone-text-warn">none</span>}
                    {d.credentialRotationFailure && <span className="tone-text-bad"> · rotation failed</span>}
                    {!d.hostKey && <span className="tone-text-warn"> · no host key</span>}
                  </td>
                  <td data-label="Vendors">{d.vendorIds.map((v) => dir.vendorName(v)).join(', ') || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

export function NewDevicePage() {
  const dir = useDirectory();
  const [x, setX] = useState<DeviceDraft>(() => draftOf());
  const [cred, setCred] = useState<CredentialDraft>(emptyCredential);
  const { busy, error, run } = useAction();
  const set = (p: Partial<DeviceDraft>) => setX((old) => ({ ...old, ...p }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const d = await run(() => post<Device>('/api/devices', {
      name: x.name.trim(), ...recordOf(x), ...(cred.username.trim() ? { credential: credentialOf(cred) } : {}),
    }));
    if (d) (dir.reload(), navigate(`/admin/devices/${d.id}`));
  };
  return (
    <Page title="Enroll a device" subtitle={<Link to="/admin/devices">← Devices</Link>}>
      <form className="form card" onSubmit={submit} aria-label="New device">
        <FieldErrors error={error}>
          <ErrorBox error={error} />
          <DeviceFields x={x} set={set} creating />
          <fieldset>
            <legend>Device credential (optional now, needed before deploying)</legend>
            <CredentialFields c={cred} set={setCred} />
          </fieldset>
          <div className="form-actions">
            <button className="btn btn-primary" disabled={busy}>{busy ? 'Enrolling…' : 'Enroll (staged)'}</button>
          </div>
        </FieldErrors>
      </form>
    </Page>
  );
}

export function AdminDevicePage({ deviceId }: { deviceId: string }) {
  const dir = useDirectory();
  const device = useApi<Device>(`/api/devices/${deviceId}`);
  const d = device.data;
  const [editing, setEditing] = useState(false);
  const [version, setVersion] = useState(0);
  const reload = () => (device.reload(), dir.reload(), setVersion((v) => v + 1));
  if (device.error) return <Page title="Device"><ErrorBox error={device.error} /></Page>;
  if (!d) return <Page title="Device"><Loading /></Page>;
  return (
    <Page title={d.name} subtitle={<Link to="/admin/devices">← Devices</Link>}
      actions={<><Badge value={d.lifecycleState} />{d.lifecycleState !== 'retired' && <button type="button" className="btn" onClick={() => setEditing(!editing)}>{editing ? 'Close editor' : 'Edit'}</button>}</>}>
      {editing ? <EditDevice device={d} onDone={() => (setEditing(false), reload())} /> : (
        <div className="two-col">
          <Card title="Trust record and policy">
            <TrustRecord device={d} full vendorNames={d.vendorIds.map((v) => dir.vendorName(v)).join(', ')} />
          </Card>
          <div className="stack">
            <Lifecycle device={d} onDone={reload} />
            {d.lifecycleState !== 'retired' && <ConnectionTest device={d} onDone={reload} />}
            {d.lifecycleState !== 'retired' && <HostKeyCard key={`hk-${version}`} deviceId={d.id} onRepinned={reload} />}
            {d.lifecycleState !== 'retired' && <Credential device={d} onDone={reload} />}
            <DeviceAudit key={version} deviceId={d.id} />
          </div>
        </div>
      )}
    </Page>
  );
}

function EditDevice({ device, onDone }: { device: Device; onDone(): void }) {
  const [x, setX] = useState<DeviceDraft>(() => draftOf(device));
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const before = recordOf(draftOf(device));
    const after = recordOf(x);
    const changed = Object.fromEntries(Object.entries(after).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(before[k])));
    if (!Object.keys(changed).length) return onDone();
    const r = await run(() => patch<Device>(`/api/devices/${device.id}`, changed));
    if (r) onDone();
  };
  return (
    <form className="form card" onSubmit={submit} aria-label="Edit device">
      <FieldErrors error={error}>
        <ErrorBox error={error} />
        <DeviceFields x={x} set={(p) => setX((o) => ({ ...o, ...p }))} creating={false} />
        <div className="form-actions">
          <button className="btn btn-primary" disabled={busy}>Save changes</button>
          <button type="button" className="btn btn-ghost" onClick={onDone}>Cancel</button>
        </div>
      </FieldErrors>
    </form>
  );
}

function Lifecycle({ device, onDone }: { device: Device; onDone(): void }) {
  const next = NEXT[device.lifecycleState];
  const [to, setTo] = useState<LifecycleState | ''>(next[0] ?? '');
  const [reason, setReason] = useState('');
  const { busy, error, run } = useAction();
  if (!next.length) return <Card title="Lifecycle"><p>Retired {device.retiredAt ? `on ${fmtTimeSec(device.retiredAt)}` : ''}. Retirement is final; the record stays for audit.</p></Card>;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await run(() => post<Device>(`/api/devices/${device.id}/lifecycle`, { state: to, reason: reason.trim() }));
    if (r) (setReason(''), onDone());
  };
  return (
    <Card title="Lifecycle">
      <form className="form" onSubmit={submit} aria-label="Lifecycle transition">
        <ErrorBox error={error} />
        <Field label={`Move from ${device.lifecycleState} to`} htmlFor="l-to">
          <select id="l-to" value={to} onChange={(e) => setTo(e.target.value as LifecycleState)}>
            {next.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </Field>
        {to === 'retired' && <div className="alert alert-bad">Retiring is final: pending requests are cancelled, grants revoked, live sessions cut and the vaulted credential destroyed.</div>}
        {to !== 'deployed' && device.lifecycleState === 'deployed' && to !== 'retired' && <div className="alert alert-warn">Suspending revokes every grant on this device and cuts its live sessions.</div>}
        <Field label="Reason (audited)" htmlFor="l-reason"><input id="l-reason" required value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2000} /></Field>
        <button className={`btn ${to === 'retired' ? 'btn-danger' : 'btn-primary'}`} disabled={busy || !to || !reason.trim()}>Move to {to}</button>
      </form>
    </Card>
  );
}

/** The last connection test and a button to run one now (deploying a staged device runs it too). */
function ConnectionTest({ device, onDone }: { device: Device; onDone(): void }) {
  const { busy, error, run } = useAction();
  const last = device.lastTest;
  const test = async () => {
    if (await run(() => post<Device['lastTest']>(`/api/devices/${device.id}/test`))) onDone();
  };
  return (
    <Card title="Connection test"
      actions={<button type="button" className="btn" onClick={test} disabled={busy}>{busy ? 'Testing…' : 'Test connection'}</button>}>
      <ErrorBox error={error} />
      {last ? (
        <p data-testid="last-test">
          <Badge value={last.ok ? 'verified' : 'broken'} label={last.ok ? 'passed' : 'failed'} /> {fmtTimeSec(last.at)}
          {last.reason && <span className="small"> — {last.reason}</span>}
        </p>
      ) : <p className="muted">Not tested yet.</p>}
      <p className="muted small">Connects as the proxy would: the host key must match the pin, the vaulted credential must log in, and a no-op command must run. A staged device is tested before it is deployed.</p>
    </Card>
  );
}

function Credential({ device, onDone }: { device: Device; onDone(): void }) {
  const [c, setC] = useState<CredentialDraft>(emptyCredential);
  const { busy, error, run } = useAction();
  const [saved, setSaved] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await run(() => patch<Device>(`/api/devices/${device.id}`, { credential: credentialOf(c) }));
    if (r) {
      setSaved(c.kind === 'certificate' ? 'Certificate mode set: nothing is stored for this device.'
        : c.kind === 'key' ? 'A new key was generated and sealed in the vault: install its public key (above).' : 'Credential sealed in the vault.');
      setC(emptyCredential);
      onDone();
    }
  };
  return (
    <Card title="Device credential">
      {device.hasCredential && <CurrentCredential device={device} />}
      <form className="form" onSubmit={submit} aria-label="Device credential">
        <FieldErrors error={error}>
          {saved && <div className="alert alert-ok">{saved}</div>}
          <ErrorBox error={error} />
          <p className="muted small">{device.hasCredential ? 'Secrets are never shown; you can only replace the credential, or switch its kind.' : 'No credential yet: the device cannot be deployed without one.'}</p>
          <CredentialFields c={c} set={setC} />
          <button className="btn" disabled={busy || !credentialComplete(c)}>{device.hasCredential ? 'Replace' : 'Set'} credential</button>
        </FieldErrors>
      </form>
    </Card>
  );
}

function DeviceAudit({ deviceId }: { deviceId: string }) {
  const events = useApi<{ items: AuditEvent[] }>('/api/audit', { subjectType: 'device', subjectId: deviceId, limit: 100 });
  const items = [...(events.data?.items ?? [])].reverse().slice(0, 15);
  return (
    <Card title="History" actions={<Link to={`/audit?subjectType=device&subjectId=${deviceId}`} className="small">all events →</Link>}>
      <ErrorBox error={events.error} />
      {!items.length ? <Empty>No event.</Empty> : (
        <ul className="compact">
          {items.map((e) => (
            <li key={e.seq}><span className="mono">{e.action}</span> <span className="muted">{fmtTimeSec(e.at)}</span>{typeof e.details.reason === 'string' && <> — {e.details.reason}</>}</li>
          ))}
        </ul>
      )}
    </Card>
  );
}
