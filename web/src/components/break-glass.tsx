// Break-glass in the console: the technician's red emergency button, the emergency badge on grants,
// and the banner every approver sees while an emergency access waits for its review.
import { useState, type FormEvent } from 'react';
import { post } from '../api/client';
import type { Device, Grant, Items } from '../api/types';
import { useApi } from '../lib/hooks';
import { Link, navigate } from '../lib/router';
import { Badge, Card, ErrorBox, Field, useAction } from './ui';

export function EmergencyBadge({ grant }: { grant: Pick<Grant, 'emergency'> }) {
  return grant.emergency ? <Badge value="emergency" label="Emergency" /> : null;
}

/** For devices whose policy allows it: emergency access at once, with the reason required. */
export function BreakGlassCard({ device }: { device: Device }) {
  const max = device.policy.breakGlassMaxMinutes;
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [minutes, setMinutes] = useState(Math.min(15, max));
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const g = await run(() => post<Grant>('/api/break-glass', { deviceId: device.id, reason: reason.trim(), durationMinutes: minutes }));
    if (g) navigate('/access');
  };
  return (
    <Card className="break-glass" title="Emergency">
      {!open ? (
        <>
          <p className="muted small">
            Only for a clinical emergency that cannot wait for approval. Access starts at once, for at most {max} minutes; every approver
            of {device.policy.approverDepartment} is told immediately and one must review it afterwards.
          </p>
          <button type="button" className="btn btn-danger" data-testid="break-glass" onClick={() => setOpen(true)}>Emergency access</button>
        </>
      ) : (
        <form className="form" onSubmit={submit} aria-label="Emergency access">
          <ErrorBox error={error} />
          <Field label="Reason (required: what is the emergency?)">
            <textarea name="reason" required maxLength={2000} rows={3} value={reason} onChange={(e) => setReason(e.target.value)} autoFocus />
          </Field>
          <Field label={`Minutes (at most ${max})`}>
            <input type="number" name="durationMinutes" min={1} max={max} required value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} />
          </Field>
          <div className="form-actions">
            <button className="btn btn-danger" disabled={busy || !reason.trim() || minutes < 1 || minutes > max}>
              {busy ? 'Opening…' : 'Open emergency access now'}
            </button>
            <button type="button" className="btn btn-ghost" onClick={() => setOpen(false)}>Cancel</button>
          </div>
        </form>
      )}
    </Card>
  );
}

/** Shown to approvers on every page while an emergency access of their department is unreviewed. */
export function EmergencyBanner() {
  const unreviewed = useApi<Items<Grant>>('/api/grants', { emergency: 'unreviewed' }, { pollMs: 10_000 });
  const n = unreviewed.data?.items.length ?? 0;
  if (!n) return null;
  return (
    <div className="alert alert-bad emergency-banner" role="alert" data-testid="emergency-banner">
      <strong>{n === 1 ? 'An emergency access (break-glass) awaits' : `${n} emergency accesses (break-glass) await`} your review.</strong>{' '}
      <Link to="/emergency">Review now</Link>
    </div>
  );
}
