import { useState, type FormEvent } from 'react';
import { Card, Empty, ErrorBox, Field, Loading, Page } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { useApi } from '../lib/hooks';
import { Link, navigate, useLocation } from '../lib/router';

interface Hit { sessionId: string; deviceName: string; offsetSeconds: number; kind: 'output' | 'input' | 'transfer'; snippet: string }

const FILTERS = ['q', 'deviceId', 'vendorId', 'from', 'to'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

const KIND: Record<Hit['kind'], string> = { output: 'shown', input: 'typed', transfer: 'file moved' };
const mmss = (s: number) => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

/** The server marks matched words between ⟦ and ⟧: shown as <mark>, the rest as plain text. */
function Snippet({ text }: { text: string }) {
  const parts = text.split(/⟦|⟧/);
  return <code>{parts.map((p, i) => (i % 2 === 1 ? <mark key={i}>{p}</mark> : <span key={i}>{p}</span>))}</code>;
}

/** Full-text search of what sessions showed and technicians typed; a hit opens the replay at its moment. */
export function SearchPage() {
  const dir = useDirectory();
  const { search } = useLocation();
  const applied: Filters = {};
  for (const k of FILTERS) if (search.get(k)) applied[k] = search.get(k)!;
  const [f, setF] = useState<Filters>(applied);
  const query = applied.q ? {
    ...applied,
    from: applied.from ? new Date(`${applied.from}T00:00:00`).toISOString() : undefined,
    to: applied.to ? new Date(new Date(`${applied.to}T00:00:00`).getTime() + 86_400_000).toISOString() : undefined,
  } : undefined;
  const hits = useApi<{ items: Hit[] }>(query ? '/api/search' : null, query);
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value || undefined });
  const apply = (e: FormEvent) => {
    e.preventDefault();
    const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v) as [string, string][]).toString();
    navigate(`/search${qs ? `?${qs}` : ''}`);
  };
  return (
    <Page title="Search sessions" subtitle="What devices showed, what technicians typed (even unechoed) and the files they moved.">
      <Card className="filters">
        <form className="filter-form" onSubmit={apply} aria-label="Search">
          <Field label="Words" htmlFor="s-q"><input id="s-q" placeholder='e.g. passwd or "rm -rf"' value={f.q ?? ''} onChange={set('q')} /></Field>
          <Field label="Device" htmlFor="s-device">
            <select id="s-device" value={f.deviceId ?? ''} onChange={set('deviceId')}>
              <option value="">any</option>
              {dir.devices.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
            </select>
          </Field>
          <Field label="Vendor" htmlFor="s-vendor">
            <select id="s-vendor" value={f.vendorId ?? ''} onChange={set('vendorId')}>
              <option value="">any</option>
              {dir.vendors.map((v) => <option key={v.id} value={v.id}>{v.name}</option>)}
            </select>
          </Field>
          <Field label="From" htmlFor="s-from"><input id="s-from" type="date" value={f.from ?? ''} onChange={set('from')} /></Field>
          <Field label="To" htmlFor="s-to"><input id="s-to" type="date" value={f.to ?? ''} onChange={set('to')} /></Field>
          <div className="filter-actions"><button className="btn btn-primary">Search</button></div>
        </form>
      </Card>
      <ErrorBox error={hits.error} />
      {hits.loading && <Loading />}
      {hits.data && !hits.data.items.length && <Empty>Nothing found.</Empty>}
      {!!hits.data?.items.length && (
        <div className="table-wrap">
          <table className="table" data-testid="search-hits">
            <thead><tr><th>Device</th><th>At</th><th>Kind</th><th>Line</th></tr></thead>
            <tbody>
              {hits.data.items.map((h, i) => (
                <tr key={`${h.sessionId}-${i}`}>
                  <td>{h.deviceName}</td>
                  <td><Link to={`/sessions/${h.sessionId}?t=${Math.max(0, Math.floor(h.offsetSeconds) - 1)}`}>{mmss(h.offsetSeconds)}</Link></td>
                  <td>{KIND[h.kind]}</td>
                  <td><Snippet text={h.snippet} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
