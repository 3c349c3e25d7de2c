// The approvers' emergency page: break-glass grants still waiting for their review (revoke or review
// each), and the ones reviewed lately.
import { useState, type FormEvent } from 'react';
import { post } from '../api/client';
import type { Grant, Items, RequestView } from '../api/types';
import { EmergencyBadge } from '../components/break-glass';
import { Badge, Card, Countdown, Empty, ErrorBox, Field, KV, Loading, Page, useAction } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { hasRole, useUser } from '../lib/session';
import { RevokeGrant } from './request-detail';

export function EmergencyPage() {
  const unreviewed = useApi<Items<Grant>>('/api/grants', { emergency: 'unreviewed' }, { pollMs: 5000 });
  const all = useApi<Items<Grant>>('/api/grants', { emergency: 'true', limit: 50 }, { pollMs: 30_000 });
  const reviewed = all.data?.items.filter((g) => g.reviewedAt) ?? [];
  const reload = () => (unreviewed.reload(), all.reload());
  return (
    <Page title="Emergency access" subtitle="Break-glass access opened without approval. Each must be reviewed within 24 hours.">
      <ErrorBox error={unreviewed.error} />
      {unreviewed.loading && <Loading />}
      {unreviewed.data && !unreviewed.data.items.length && <Empty>No emergency access waits for a review.</Empty>}
      <div className="grid">
        {unreviewed.data?.items.map((g) => <EmergencyCard key={g.id} grant={g} onChange={reload} />)}
      </div>
      {!!reviewed.length && <Reviewed items={reviewed} />}
    </Page>
  );
}

function EmergencyCard({ grant: g, onChange }: { grant: Grant; onChange(): void }) {
  const me = useUser();
  const dir = useDirectory();
  const req = useApi<RequestView>(`/api/access-requests/${g.requestId}`);
  const c = req.data?.context;
  const running = g.status === 'active' || g.status === 'scheduled';
  const overdue = g.reviewDueAt !== null && new Date(g.reviewDueAt).getTime() <= Date.now();
  const mine = g.technicianId === me.id;
  return (
    <Card className="emergency-card" title={<span className="mono">{c?.device?.name ?? dir.deviceName(g.deviceId)}</span>}
      actions={<><EmergencyBadge grant={g} /><Badge value={g.status} /></>}>
      <KV items={[
        ['Technician', c?.technician ? `${c.technician.displayName}${c.vendor ? ` · ${c.vendor.name}` : ''}` : dir.userName(g.technicianId)],
        ['Reason', req.data?.reason],
        ['Opened', fmtTime(g.startsAt)],
        [running ? 'Ends in' : 'Ended', running ? <Countdown key="c" to={g.endsAt} /> : `${fmtTime(g.endedAt)}${g.endReason ? ` — ${g.endReason}` : ''}`],
        ['Review due', overdue ? <strong className="tone-text-bad">overdue since {fmtTime(g.reviewDueAt)}</strong> : <Countdown key="r" to={g.reviewDueAt!} />],
      ]} />
      {running && hasRole(me, 'approver', 'admin') && !mine && <RevokeGrant grant={g} onDone={onChange} />}
      {hasRole(me, 'approver') && !mine && <ReviewForm grant={g} onDone={onChange} />}
      {mine && <p className="muted small">This is your own emergency access: another approver reviews it.</p>}
    </Card>
  );
}

function ReviewForm({ grant, onDone }: { grant: Grant; onDone(): void }) {
  const [outcome, setOutcome] = useState<'justified' | 'unjustified'>('justified');
  const [comment, setComment] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await run(() => post(`/api/grants/${grant.id}/review`, { outcome, comment: comment.trim() }));
    if (ok !== undefined) onDone();
  };
  return (
    <form className="form inset" onSubmit={submit} aria-label="Review emergency access">
      <ErrorBox error={error} />
      <fieldset className="field">
        <legend>Was the emergency access justified?</legend>
        <label className="radio"><input type="radio" name={`outcome-${grant.id}`} checked={outcome === 'justified'} onChange={() => setOutcome('justified')} /> Justified</label>
        <label className="radio"><input type="radio" name={`outcome-${grant.id}`} checked={outcome === 'unjustified'} onChange={() => setOutcome('unjustified')} /> Unjustified (ends access still running)</label>
      </fieldset>
      <Field label="Comment (required)">
        <textarea name="comment" required maxLength={2000} rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
      </Field>
      <button className="btn btn-primary" disabled={busy || !comment.trim()}>Record review</button>
    </form>
  );
}

function Reviewed({ items }: { items: Grant[] }) {
  const dir = useDirectory();
  return (
    <>
      <h2 className="section">Reviewed</h2>
      <div className="table-wrap">
        <table className="table">
          <thead><tr><th>Device</th><th>Opened</th><th>Outcome</th><th>Comment</th><th>Reviewed</th></tr></thead>
          <tbody>
            {items.map((g) => (
              <tr key={g.id}>
                <td data-label="Device" className="mono">{dir.deviceName(g.deviceId)}</td>
                <td data-label="Opened">{fmtTime(g.startsAt)}</td>
                <td data-label="Outcome"><Badge value={g.reviewOutcome === 'justified' ? 'approved' : 'denied'} label={g.reviewOutcome ?? ''} /></td>
                <td data-label="Comment">{g.reviewComment}</td>
                <td data-label="Reviewed">{fmtTime(g.reviewedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
