import type { Device } from '../api/types';
import { fmtDays, fmtMinutes, fmtTime } from '../lib/format';
import { ageDays, credentialKindText } from './credential-setup';
import { Badge, KV } from './ui';

export function maintenanceText(d: Device): string {
  const w = d.policy.maintenanceWindow;
  return w ? `${fmtDays(w.days)} ${w.start}–${w.end} (${w.timezone})` : 'any time';
}

/** The device's trust record as a person checks it before granting or using access. */
export function TrustRecord({ device, vendorNames, full = false }: { device: Device; vendorNames?: string; full?: boolean }) {
  const items: [string, React.ReactNode][] = [
    ['Model', `${device.manufacturer} ${device.model}`],
    ['Department', device.department],
    ['Clinical purpose', device.clinicalPurpose],
    ['Criticality', <Badge key="c" value={device.criticality} />],
    ['State', <Badge key="s" value={device.lifecycleState} />],
    ['Firmware baseline', device.firmwareBaseline],
  ];
  if (full) {
    items.push(
      ['Serial number', device.serialNumber ?? '—'],
      ['Address', `${device.address}:${device.sshPort}`],
      ['Host key pinned', device.hostKey ? 'yes' : 'no — connections are refused until it is'],
      ['Vaulted credential', !device.hasCredential ? 'not set' : device.credentialKind === 'certificate' ? 'none: a fresh certificate per connection' : 'set (never shown)'],
    );
    if (device.hasCredential) {
      items.push(
        ['Credential kind', credentialKindText(device.credentialKind)],
        ['Credential issued', device.credentialIssuedAt ? `${fmtTime(device.credentialIssuedAt)} (${ageDays(device.credentialIssuedAt)} days old)` : '—'],
        ['Credential rotated', device.credentialRotatedAt ? fmtTime(device.credentialRotatedAt) : 'never'],
      );
      if (device.credentialRotationFailure) {
        items.push(['Rotation', <span key="rf" className="tone-text-bad">failed {fmtTime(device.credentialRotationFailure.at)}: {device.credentialRotationFailure.reason}</span>]);
      }
    }
  }
  if (vendorNames !== undefined) items.push(['Vendors', vendorNames || '—']);
  items.push(
    ['Max session', fmtMinutes(device.policy.maxSessionMinutes)],
    ['Approvals needed', String(device.policy.approvalsRequired)],
    ['Approver department', device.policy.approverDepartment],
    ['Maintenance hours', maintenanceText(device)],
    ['Allowed', ['shell', device.policy.allowExec && 'exec', device.policy.allowPortForwarding && 'port forwarding', device.policy.allowSftp && 'SFTP'].filter(Boolean).join(', ')],
  );
  return <KV items={items} />;
}
