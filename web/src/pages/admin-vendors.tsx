import { useState, type FormEvent } from 'react';
import { patch, post } from '../api/client';
import type { Items, Vendor } from '../api/types';
import { FieldErrors } from '../components/form-errors';
import { Badge, Card, Empty, ErrorBox, Field, Loading, Page, useAction } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { useApi } from '../lib/hooks';

const today = () => new Date().toISOString().slice(0, 10);

export function VendorsPage() {
  const dir = useDirectory();
  const vendors = useApi<Items<Vendor>>('/api/vendors');
  const reload = () => (vendors.reload(), dir.reload());
  return (
    <Page title="Vendors" subtitle="Companies whose technicians may service devices. No access after a contract ends.">
      <div className="two-col">
        <div>
          <ErrorBox error={vendors.error} />
          {vendors.loading && <Loading />}
          {vendors.data && !vendors.data.items.length && <Empty>No vendor yet.</Empty>}
          {!!vendors.data?.items.length && (
            <div className="table-wrap">
              <table className="table" data-testid="vendors">
                <thead><tr><th>Name</th><th>Contract</th><th>Ends</th><th>Devices</th><th /></tr></thead>
                <tbody>
                  {vendors.data.items.map((v) => <VendorRow key={v.id} v={v} devices={dir.devices.filter((d) => d.vendorIds.includes(v.id)).length} onDone={reload} />)}
                </tbody>
              </table>
            </div>
          )}
        </div>
        <NewVendor onDone={reload} />
      </div>
    </Page>
  );
}

function VendorRow({ v, devices, onDone }: { v: Vendor; devices: number; onDone(): void }) {
  const [editing, setEditing] = useState(false);
  const [end, setEnd] = useState(v.contractEnd);
  const { busy, error, run } = useAction();
  const ended = v.contractEnd < today();
  return (
    <tr>
      <td data-label="Name">{v.name}</td>
      <td data-label="Contract">{v.contractRef}</td>
      <td data-label="Ends">
        {editing ? (
          <form className="inline-form" onSubmit={(e) => (e.preventDefault(), void run(() => patch(`/api/vendors/${v.id}`, { contractEnd: end })).then((r) => r && (setEditing(false), onDone())))}>
            <input type="date" value={end} onChange={(e) => setEnd(e.target.value)} required aria-label="Contract end" />
            <button className="btn btn-small" disabled={busy}>Save</button>
            <ErrorBox error={error} />
          </form>
        ) : (
          <>{v.contractEnd} {ended && <Badge value="expired" label="ended" />}</>
        )}
      </td>
      <td data-label="Devices">{devices}</td>
      <td>{!editing && <button type="button" className="btn btn-small btn-ghost" onClick={() => setEditing(true)}>Change end</button>}</td>
    </tr>
  );
}

function NewVendor({ onDone }: { onDone(): void }) {
  const [name, setName] = useState('');
  const [contractRef, setRef] = useState('');
  const [contractEnd, setEnd] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await run(() => post('/api/vendors', { name: name.trim(), contractRef: contractRef.trim(), contractEnd }));
    if (r) (setName(''), setRef(''), setEnd(''), onDone());
  };
  return (
    <Card title="Add a vendor">
      <form className="form" onSubmit={submit} aria-label="New vendor">
        <FieldErrors error={error}>
          <ErrorBox error={error} />
          <Field label="Name" htmlFor="v-name" name="name"><input id="v-name" required value={name} onChange={(e) => setName(e.target.value)} /></Field>
          <Field label="Contract reference" htmlFor="v-ref" name="contractRef"><input id="v-ref" required value={contractRef} onChange={(e) => setRef(e.target.value)} /></Field>
          <Field label="Contract end (last day of access)" htmlFor="v-end" name="contractEnd"><input id="v-end" type="date" required value={contractEnd} onChange={(e) => setEnd(e.target.value)} /></Field>
          <button className="btn btn-primary" disabled={busy}>Add vendor</button>
        </FieldErrors>
      </form>
    </Card>
  );
}
