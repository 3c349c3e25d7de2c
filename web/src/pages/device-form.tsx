// The device enrollment and edit form: trust record, access policy, vendors, and the credential the
// proxy logs in with (§8.4: device certificate, rotated key, or a static secret) with its setup on the device.
import { CRITICALITIES, type Criticality, type Device, type DevicePolicy } from '../api/types';
import { FieldProblem } from '../components/form-errors';
import { CertificateSetup, KeySetup, StaticSecretNote } from '../components/credential-setup';
import { Field } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { Link } from '../lib/router';

export interface DeviceDraft {
  name: string; manufacturer: string; model: string; serialNumber: string; firmwareBaseline: string; department: string;
  clinicalPurpose: string; criticality: Criticality; address: string; sshPort: string; hostKey: string;
  maxSessionMinutes: string; approvalsRequired: '1' | '2'; approverDepartment: string;
  windowOn: boolean; days: number[]; windowStart: string; windowEnd: string; timezone: string;
  allowExec: boolean; allowPortForwarding: boolean; allowSftp: boolean; vendorIds: string[];
  breakGlass: boolean; breakGlassMaxMinutes: string;
}

export function draftOf(d?: Device): DeviceDraft {
  const w = d?.policy.maintenanceWindow;
  return {
    name: d?.name ?? '', manufacturer: d?.manufacturer ?? '', model: d?.model ?? '', serialNumber: d?.serialNumber ?? '',
    firmwareBaseline: d?.firmwareBaseline ?? '', department: d?.department ?? '', clinicalPurpose: d?.clinicalPurpose ?? '',
    criticality: d?.criticality ?? 'medium', address: d?.address ?? '', sshPort: String(d?.sshPort ?? 22), hostKey: d?.hostKey ?? '',
    maxSessionMinutes: String(d?.policy.maxSessionMinutes ?? 60), approvalsRequired: String(d?.policy.approvalsRequired ?? 1) as '1' | '2',
    approverDepartment: d?.policy.approverDepartment ?? '', windowOn: !!w, days: w?.days ?? [1, 2, 3, 4, 5],
    windowStart: w?.start ?? '08:00', windowEnd: w?.end ?? '18:00', timezone: w?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
    allowExec: d?.policy.allowExec ?? true, allowPortForwarding: d?.policy.allowPortForwarding ?? false, allowSftp: d?.policy.allowSftp ?? false,
    vendorIds: d?.vendorIds ?? [],
    breakGlass: d?.policy.breakGlass ?? false, breakGlassMaxMinutes: String(d?.policy.breakGlassMaxMinutes ?? 30),
  };
}

export function policyOf(x: DeviceDraft): Partial<DevicePolicy> {
  return {
    maxSessionMinutes: Number(x.maxSessionMinutes),
    approvalsRequired: Number(x.approvalsRequired) as 1 | 2,
    ...(x.approverDepartment.trim() ? { approverDepartment: x.approverDepartment.trim() } : {}),
    maintenanceWindow: x.windowOn ? { days: [...x.days].sort(), start: x.windowStart, end: x.windowEnd, timezone: x.timezone } : null,
    allowExec: x.allowExec, allowPortForwarding: x.allowPortForwarding, allowSftp: x.allowSftp,
    breakGlass: x.breakGlass, breakGlassMaxMinutes: Number(x.breakGlassMaxMinutes),
  };
}

/** The fields an admin edits, as the API names them. */
export function recordOf(x: DeviceDraft): Record<string, unknown> {
  return {
    manufacturer: x.manufacturer.trim(), model: x.model.trim(), serialNumber: x.serialNumber.trim() || null,
    firmwareBaseline: x.firmwareBaseline.trim(), department: x.department.trim(), clinicalPurpose: x.clinicalPurpose.trim(),
    criticality: x.criticality, address: x.address.trim(), sshPort: Number(x.sshPort), hostKey: x.hostKey.trim() || null,
    policy: policyOf(x), vendorIds: x.vendorIds,
  };
}

export function DeviceFields({ x, set, creating }: { x: DeviceDraft; set(p: Partial<DeviceDraft>): void; creating: boolean }) {
  const dir = useDirectory();
  const text = (k: keyof DeviceDraft) => ({ value: x[k] as string, onChange: (e: { target: { value: string } }) => set({ [k]: e.target.value }) });
  const toggleDay = (d: number) => set({ days: x.days.includes(d) ? x.days.filter((y) => y !== d) : [...x.days, d] });
  return (
    <>
      <fieldset className="form-grid">
        <legend>Trust record</legend>
        {creating && <Field label="Name (the SSH principal)" htmlFor="d-name" name="name"><input id="d-name" required {...text('name')} placeholder="icu-vent-07" className="mono" /></Field>}
        <Field label="Manufacturer" htmlFor="d-man" name="manufacturer"><input id="d-man" required {...text('manufacturer')} /></Field>
        <Field label="Model" htmlFor="d-model" name="model"><input id="d-model" required {...text('model')} /></Field>
        <Field label="Serial number" htmlFor="d-serial" name="serialNumber"><input id="d-serial" {...text('serialNumber')} /></Field>
        <Field label="Firmware baseline" htmlFor="d-fw" name="firmwareBaseline"><input id="d-fw" required {...text('firmwareBaseline')} /></Field>
        <Field label="Owning department" htmlFor="d-dept" name="department"><input id="d-dept" required {...text('department')} /></Field>
        <Field label="Criticality" htmlFor="d-crit" name="criticality">
          <select id="d-crit" value={x.criticality} onChange={(e) => set({ criticality: e.target.value as Criticality, ...(creating ? { approvalsRequired: e.target.value === 'critical' ? '2' : '1' } : {}) })}>
            {CRITICALITIES.map((c) => <option key={c}>{c}</option>)}
          </select>
        </Field>
        <Field label="Clinical purpose" htmlFor="d-purpose" name="clinicalPurpose"><textarea id="d-purpose" required rows={2} {...text('clinicalPurpose')} /></Field>
        <Field label="Network address" htmlFor="d-addr" name="address"><input id="d-addr" required {...text('address')} placeholder="10.20.30.40" /></Field>
        <Field label="SSH port" htmlFor="d-port" name="sshPort"><input id="d-port" type="number" min={1} max={65535} required {...text('sshPort')} /></Field>
        <Field label="Pinned SSH host key" htmlFor="d-hostkey" name="hostKey" hint="The device's public host key line; connections are refused if it does not match.">
          <textarea id="d-hostkey" rows={2} className="mono" {...text('hostKey')} placeholder="ssh-ed25519 AAAA…" />
        </Field>
      </fieldset>
      <fieldset className="form-grid">
        <legend>Access policy</legend>
        <Field label="Max session (minutes)" htmlFor="d-max" name="policy.maxSessionMinutes"><input id="d-max" type="number" min={1} max={1440} required {...text('maxSessionMinutes')} /></Field>
        <Field label="Approvals required" htmlFor="d-appr" name="policy.approvalsRequired">
          <select id="d-appr" value={x.approvalsRequired} onChange={(e) => set({ approvalsRequired: e.target.value as '1' | '2' })}>
            <option value="1">1</option><option value="2">2 (default for critical devices)</option>
          </select>
        </Field>
        <Field label="Approver department" htmlFor="d-apdept" name="policy.approverDepartment" hint="Empty: the owning department."><input id="d-apdept" {...text('approverDepartment')} /></Field>
        <div className="field checks">
          <label><input type="checkbox" checked={x.allowExec} onChange={(e) => set({ allowExec: e.target.checked })} /> exec</label>
          <label><input type="checkbox" checked={x.allowPortForwarding} onChange={(e) => set({ allowPortForwarding: e.target.checked })} /> port forwarding</label>
          <label><input type="checkbox" checked={x.allowSftp} onChange={(e) => set({ allowSftp: e.target.checked })} /> SFTP</label>
          <label><input type="checkbox" checked={x.breakGlass} onChange={(e) => set({ breakGlass: e.target.checked })} /> emergency access (break-glass)</label>
        </div>
        {x.breakGlass && (
          <Field label="Emergency access at most (minutes)" htmlFor="d-bgmax" name="policy.breakGlassMaxMinutes" hint="Opened without approval, reviewed afterwards; 1 to 240.">
            <input id="d-bgmax" type="number" min={1} max={240} required {...text('breakGlassMaxMinutes')} />
          </Field>
        )}
        <div className="field span-2">
          <label><input type="checkbox" checked={x.windowOn} onChange={(e) => set({ windowOn: e.target.checked })} /> Only during maintenance hours</label>
          {x.windowOn && (
            <div className="window-row">
              <div className="chips">
                {['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].map((n, i) => (
                  <button key={n} type="button" className={`chip ${x.days.includes(i + 1) ? 'on' : ''}`} onClick={() => toggleDay(i + 1)}>{n}</button>
                ))}
              </div>
              <input type="time" aria-label="From" value={x.windowStart} onChange={(e) => set({ windowStart: e.target.value })} />
              <span>–</span>
              <input type="time" aria-label="To" value={x.windowEnd} onChange={(e) => set({ windowEnd: e.target.value })} />
              <input aria-label="Time zone" value={x.timezone} onChange={(e) => set({ timezone: e.target.value })} />
            </div>
          )}
          <FieldProblem name="policy.maintenanceWindow" nested />
        </div>
      </fieldset>
      <fieldset>
        <legend>Vendors that may service it</legend>
        {!dir.vendors.length ? <p className="muted">No vendor yet: <Link to="/admin/vendors">add one</Link>.</p> : (
          <div className="checks">
            {dir.vendors.map((v) => (
              <label key={v.id}>
                <input type="checkbox" checked={x.vendorIds.includes(v.id)}
                  onChange={(e) => set({ vendorIds: e.target.checked ? [...x.vendorIds, v.id] : x.vendorIds.filter((y) => y !== v.id) })} /> {v.name}
              </label>
            ))}
          </div>
        )}
        <FieldProblem name="vendorIds" nested />
      </fieldset>
    </>
  );
}

/** The credential kinds an admin chooses from (§8.4), as the form names them. */
export type CredentialChoice = 'certificate' | 'key' | 'privateKey' | 'password';
export interface CredentialDraft { username: string; kind: CredentialChoice; secret: string; rotationCommand: string }
export const emptyCredential: CredentialDraft = { username: '', kind: 'privateKey', secret: '', rotationCommand: '' };

/** The credential as the API takes it. */
export function credentialOf(c: CredentialDraft): Record<string, unknown> {
  const username = c.username.trim();
  if (c.kind === 'certificate' || c.kind === 'key') return { kind: c.kind, username };
  if (c.kind === 'password') {
    const command = c.rotationCommand.trim();
    return { username, password: c.secret, ...(command ? { passwordRotation: { command } } : {}) };
  }
  return { username, privateKey: c.secret.trim() + '\n' };
}

/** Whether the draft is a whole credential: a login name, and a secret for the static kinds. */
export const credentialComplete = (c: CredentialDraft) => !!c.username.trim() && (c.kind === 'certificate' || c.kind === 'key' || !!c.secret);

export function CredentialFields({ c, set }: { c: CredentialDraft; set(c: CredentialDraft): void }) {
  const isStatic = c.kind === 'password' || c.kind === 'privateKey';
  return (
    <div className="form-grid">
      <Field label="Login name on the device" htmlFor="c-user" name="credential.username"><input id="c-user" autoComplete="off" value={c.username} onChange={(e) => set({ ...c, username: e.target.value })} /></Field>
      <Field label="Kind" htmlFor="c-kind">
        <select id="c-kind" value={c.kind} onChange={(e) => set({ ...c, kind: e.target.value as CredentialChoice, secret: '', rotationCommand: '' })}>
          <option value="certificate">device certificate (recommended)</option>
          <option value="key">rotated key</option>
          <option value="privateKey">static private key</option>
          <option value="password">static password</option>
        </select>
      </Field>
      <div className="field span-2">
        {c.kind === 'certificate' && <CertificateSetup username={c.username} />}
        {c.kind === 'key' && <KeySetup username={c.username} publicKey={null} />}
        {isStatic && <StaticSecretNote password={c.kind === 'password'} />}
      </div>
      {isStatic && (
        <Field label={c.kind === 'password' ? 'Password' : 'Private key (unencrypted OpenSSH/PEM)'} htmlFor="c-secret" name={`credential.${c.kind}`}
          hint="Sealed in the broker's vault; it is never shown again, to anyone.">
          {c.kind === 'password'
            ? <input id="c-secret" type="password" autoComplete="new-password" value={c.secret} onChange={(e) => set({ ...c, secret: e.target.value })} />
            : <textarea id="c-secret" rows={4} className="mono" spellCheck={false} autoComplete="off" value={c.secret} onChange={(e) => set({ ...c, secret: e.target.value })} />}
        </Field>
      )}
      {c.kind === 'password' && (
        <Field label="Rotation command on the device (optional)" htmlFor="c-rotate" name="credential.passwordRotation.command"
          hint={<>A chpasswd-style command, e.g. <code>chpasswd</code>, run as this login after each grant ends: it reads <code>user:newpassword</code> on
            standard input, never on its command line; the new one is vaulted only after a login with it worked. Empty: the secret stays static.</>}>
          <input id="c-rotate" className="mono" autoComplete="off" maxLength={500} value={c.rotationCommand} placeholder="chpasswd"
            onChange={(e) => set({ ...c, rotationCommand: e.target.value })} />
        </Field>
      )}
      <FieldProblem name="credential" />
    </div>
  );
}
