import { useState, type FormEvent } from 'react';
import { post } from '../api/client';
import type { AccessRequest, Device } from '../api/types';
import { BreakGlassCard } from '../components/break-glass';
import { maintenanceText, TrustRecord } from '../components/trust-record';
import { FieldErrors, FieldProblem } from '../components/form-errors';
import { Card, ErrorBox, Field, Loading, Page, useAction } from '../components/ui';
import { fmtMinutes, fromLocalInput, toLocalInput } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link, navigate } from '../lib/router';

export function RequestFormPage({ deviceId }: { deviceId: string }) {
  const device = useApi<Device>(`/api/devices/${deviceId}`);
  return (
    <Page title="Request access" subtitle={<Link to="/devices">← Devices</Link>}>
      <ErrorBox error={device.error} />
      {device.loading && <Loading />}
      {device.data && <RequestForm device={device.data} />}
    </Page>
  );
}

function RequestForm({ device }: { device: Device }) {
  const max = device.policy.maxSessionMinutes;
  const [reason, setReason] = useState('');
  const [ticketRef, setTicketRef] = useState('');
  const [later, setLater] = useState(false);
  const [startsAt, setStartsAt] = useState(() => toLocalInput(new Date(Date.now() + 60 * 60_000)));
  const [duration, setDuration] = useState(Math.min(30, max));
  const { busy, error, run } = useAction();
  const presets = [15, 30, 60, 120, 240, 480].filter((m) => m < max).concat(max);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      const body: Record<string, unknown> = { deviceId: device.id, reason: reason.trim(), ticketRef: ticketRef.trim(), durationMinutes: duration };
      if (later) body.startsAt = fromLocalInput(startsAt);
      const r = await post<AccessRequest>('/api/access-requests', body);
      navigate(`/access?created=${r.id}`);
    });
  };

  return (
    <div className="two-col">
      <Card title={<>Access to <span className="mono">{device.name}</span></>}>
        <form onSubmit={submit} className="form" aria-label="Access request">
          <FieldErrors error={error}>
            <ErrorBox error={error} />
            <Field label="Reason" htmlFor="reason" name="reason" hint="What you will do on the device. The approver reads this.">
              <textarea id="reason" name="reason" required maxLength={2000} rows={3} value={reason} onChange={(e) => setReason(e.target.value)} />
            </Field>
            <Field label="Change ticket" htmlFor="ticket" name="ticketRef" hint="The hospital's change or service ticket reference.">
              <input id="ticket" name="ticketRef" required maxLength={200} value={ticketRef} onChange={(e) => setTicketRef(e.target.value)} placeholder="e.g. CHG-10423" />
            </Field>
            <fieldset className="field">
              <legend>Start</legend>
              <label className="radio">
                <input type="radio" name="start" checked={!later} onChange={() => setLater(false)} /> As soon as it is approved
              </label>
              <label className="radio">
                <input type="radio" name="start" checked={later} onChange={() => setLater(true)} /> Later, at
              </label>
              {later && (
                <input type="datetime-local" aria-label="Start time" value={startsAt} min={toLocalInput(new Date())} onChange={(e) => setStartsAt(e.target.value)} required />
              )}
              <small className="hint">The clock starts at the window start, never at request time.</small>
              <FieldProblem name="startsAt" />
            </fieldset>
            <Field label={`Duration (minutes, at most ${max})`} htmlFor="duration" name="durationMinutes" hint={<>This device allows sessions of at most <strong>{fmtMinutes(max)}</strong>.</>}>
              <input id="duration" name="durationMinutes" type="number" min={1} max={max} step={1} required value={duration}
                onChange={(e) => setDuration(Number(e.target.value))} />
              <div className="chips">
                {presets.map((m) => (
                  <button key={m} type="button" className={`chip ${m === duration ? 'on' : ''}`} onClick={() => setDuration(m)}>
                    {fmtMinutes(m)}
                  </button>
                ))}
              </div>
            </Field>
            <p className="muted">
              Needs {device.policy.approvalsRequired} approval{device.policy.approvalsRequired > 1 ? 's' : ''} from {device.policy.approverDepartment}.
              Maintenance hours: {maintenanceText(device)}.
            </p>
            <div className="form-actions">
              <button className="btn btn-primary" type="submit" disabled={busy || duration < 1 || duration > max}>
                {busy ? 'Sending…' : 'Send request'}
              </button>
              <Link to="/devices" className="btn btn-ghost">Cancel</Link>
            </div>
          </FieldErrors>
        </form>
      </Card>
      <div>
        {device.policy.breakGlass && <BreakGlassCard device={device} />}
        <Card title="Trust record">
          <TrustRecord device={device} />
        </Card>
      </div>
    </div>
  );
}
