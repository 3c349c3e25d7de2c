import { useEffect, useState, type FormEvent } from 'react';
import { END_REASONS, type Items, type Session } from '../api/types';
import { Badge, Card, Empty, ErrorBox, Field, Loading, Page } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { endReasonText, fmtBytes, fmtDuration, fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link, navigate, useLocation } from '../lib/router';

const FILTERS = ['deviceId', 'vendorId', 'technicianId', 'endReason', 'live', 'from', 'to'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

/** Dates in the filter are days in the browser's zone: "to" includes the whole day. */
function toQuery(f: Filters): Record<string, string | undefined> {
  return {
    ...f,
    from: f.from ? new Date(`${f.from}T00:00:00`).toISOString() : undefined,
    to: f.to ? new Date(new Date(`${f.to}T00:00:00`).getTime() + 86_400_000).toISOString() : undefined,
    limit: '200',
  };
}

/** Sessions with filters; each one opens its recording. Filters live in the URL, so a search can be shared. */
export function SessionsPage() {
  const dir = useDirectory();
  const { search } = useLocation();
  const applied: Filters = {};
  for (const k of FILTERS) if (search.get(k)) applied[k] = search.get(k)!;
  const [f, setF] = useState<Filters>(applied);
  const sessions = useApi<Items<Session>>('/api/sessions', toQuery(applied), { pollMs: 15_000 });
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value || undefined });
  const apply = (e: FormEvent) => {
    e.preventDefault();
    const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v) as [string, string][]).toString();
    navigate(`/sessions${qs ? `?${qs}` : ''}`);
  };
  const technicians = dir.users.filter((u) => u.roles.includes('technician'));
  useEffect(() => dir.learn(sessions.data?.items.map((x) => x.technician) ?? []), [sessions.data, dir]);

  return (
    <Page title="Recordings" subtitle="Every session through the broker. Open one to replay it.">
      <Card className="filters">
        <form className="filter-form" onSubmit={apply} aria-label="Session filters">
          <Field label="Device" htmlFor="f-device">
            <select id="f-device" value={f.deviceId ?? ''} onChange={set('deviceId')}>
              <option value="">any</option>
              {dir.devices.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
            </select>
          </Field>
          <Field label="Vendor" htmlFor="f-vendor">
            <select id="f-vendor" value={f.vendorId ?? ''} onChange={set('vendorId')}>
              <option value="">any</option>
              {dir.vendors.map((v) => <option key={v.id} value={v.id}>{v.name}</option>)}
            </select>
          </Field>
          <Field label="Technician" htmlFor="f-tech">
            {technicians.length ? (
              <select id="f-tech" value={f.technicianId ?? ''} onChange={set('technicianId')}>
                <option value="">any</option>
                {technicians.map((u) => <option key={u.id} value={u.id}>{u.displayName} ({u.username})</option>)}
              </select>
            ) : (
              <input id="f-tech" placeholder="technician id" value={f.technicianId ?? ''} onChange={set('technicianId')} />
            )}
          </Field>
          <Field label="End reason" htmlFor="f-end">
            <select id="f-end" value={f.endReason ?? ''} onChange={set('endReason')}>
              <option value="">any</option>
              {END_REASONS.map((r) => <option key={r} value={r}>{r.replace('_', ' ')}</option>)}
            </select>
          </Field>
          <Field label="State" htmlFor="f-live">
            <select id="f-live" value={f.live ?? ''} onChange={set('live')}>
              <option value="">any</option>
              <option value="true">live</option>
              <option value="false">ended</option>
            </select>
          </Field>
          <Field label="From" htmlFor="f-from"><input id="f-from" type="date" value={f.from ?? ''} onChange={set('from')} /></Field>
          <Field label="To" htmlFor="f-to"><input id="f-to" type="date" value={f.to ?? ''} onChange={set('to')} /></Field>
          <div className="filter-actions">
            <button className="btn btn-primary" type="submit">Search</button>
            <button type="button" className="btn btn-ghost" onClick={() => (setF({}), navigate('/sessions'))}>Clear</button>
          </div>
        </form>
      </Card>
      <ErrorBox error={sessions.error} />
      {sessions.loading && <Loading />}
      {sessions.data && !sessions.data.items.length && <Empty>No session matches.</Empty>}
      {!!sessions.data?.items.length && (
        <div className="table-wrap">
          <table className="table" data-testid="sessions">
            <thead>
              <tr><th>Started</th><th>Device</th><th>Technician</th><th>Reason</th><th>Channel</th><th>Duration</th><th>Ended</th><th>Traffic</th><th /></tr>
            </thead>
            <tbody>
              {sessions.data.items.map((s) => (
                <tr key={s.id} data-session-id={s.id}>
                  <td data-label="Started">{fmtTime(s.startedAt)}</td>
                  <td data-label="Device" className="mono">{dir.deviceName(s.deviceId)}</td>
                  <td data-label="Technician">{dir.userName(s.technicianId)}{s.access?.vendor && <div className="muted small">{s.access.vendor.name}</div>}</td>
                  <td data-label="Reason" data-testid="session-reason">
                    {s.access?.reason ?? '—'}{s.access?.ticketRef && <div className="muted small mono">{s.access.ticketRef}</div>}
                    {s.access?.emergency && <Badge value="emergency" />}
                  </td>
                  <td data-label="Channel">{s.channel}{s.command && <code className="small"> {s.command}</code>}</td>
                  <td data-label="Duration">{s.endedAt ? fmtDuration(new Date(s.endedAt).getTime() - new Date(s.startedAt).getTime()) : '—'}</td>
                  <td data-label="Ended">{s.endedAt ? <Badge value={s.endReason ?? 'error'} label={endReasonText(s.endReason)} /> : <Badge value="live" />}</td>
                  <td data-label="Traffic">{s.endedAt ? fmtBytes(s.bytesIn + s.bytesOut) : '—'}</td>
                  <td className="row-actions">
                    <Link to={`/sessions/${s.id}`} className="btn btn-small">{s.endedAt ? 'Replay' : 'Open'}</Link>
                    {!s.endedAt && <Link to={`/sessions/${s.id}/watch`} className="btn btn-small">Watch</Link>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
