import { useState, type FormEvent } from 'react';
import { post } from '../api/client';
import type { Device, Grant } from '../api/types';
import { FieldErrors } from './form-errors';
import { ErrorBox, Field, useAction } from './ui';
import { hasRole, useUser } from '../lib/session';

/** the broker accepts a firmware record up to this long after the grant ended (server/core/firmware.ts) */
const RECORD_DAYS = 7;

/** Whether the grant is in the period its firmware may still be recorded (the broker checks again). */
function mayRecordNow(g: Grant): boolean {
  if (!g.activatedAt) return false;
  if (g.status === 'active') return true;
  return !!g.endedAt && Date.now() - Date.parse(g.endedAt) <= RECORD_DAYS * 24 * 3600_000;
}

/**
 * After the window: the grant's technician (or an approver, an admin) records the firmware version
 * the grant installed; the device's trust record takes it as its baseline, audited with the uploads.
 */
export function RecordFirmware({ grant, onDone }: { grant: Grant; onDone(): void }) {
  const me = useUser();
  const [open, setOpen] = useState(false);
  const [version, setVersion] = useState('');
  const [note, setNote] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  if (!mayRecordNow(grant) || !(grant.technicianId === me.id || hasRole(me, 'approver', 'admin'))) return null;
  if (!open) {
    return (
      <p className="inline">
        {saved && <span className="muted" role="status">Firmware baseline is now <strong>{saved}</strong>. </span>}
        <button type="button" className="btn btn-small" onClick={() => setOpen(true)}>Record new firmware version…</button>
      </p>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(() => post<Device>(`/api/grants/${grant.id}/firmware`, { version: version.trim(), ...(note.trim() ? { note: note.trim() } : {}) }))
      .then((d) => {
        if (!d) return;
        setSaved(d.firmwareBaseline);
        setOpen(false);
        setVersion('');
        setNote('');
        onDone();
      });
  };
  return (
    <form className="form inset" onSubmit={submit} aria-label="Record new firmware version">
      <FieldErrors error={error}>
        <ErrorBox error={error} />
        <Field label="New firmware version" name="version" hint="As the device reports it after the update; it becomes the trust record's firmware baseline.">
          <input value={version} onChange={(e) => setVersion(e.target.value)} required maxLength={200} autoFocus />
        </Field>
        <Field label="Note (optional)" name="note">
          <textarea rows={2} value={note} onChange={(e) => setNote(e.target.value)} maxLength={1000} />
        </Field>
        <div className="form-actions">
          <button className="btn" disabled={busy || !version.trim()}>{busy ? 'Recording…' : 'Record version'}</button>
          <button type="button" className="btn btn-ghost" onClick={() => setOpen(false)}>Cancel</button>
        </div>
      </FieldErrors>
    </form>
  );
}
