import type { DevicePatch, DeviceRepo, NewDevice } from '../core/ports.js';
import { expandPolicyAliases } from '../core/transfer-policy.js';
import type { Device, DevicePolicy } from '../core/types.js';
import type { Queryable } from './pool.js';

const SELECT = `
  SELECT d.*,
    COALESCE((SELECT array_agg(vd.vendor_id ORDER BY vd.vendor_id) FROM vendor_devices vd WHERE vd.device_id = d.id), '{}') AS vendor_ids,
    EXISTS (SELECT 1 FROM device_credentials c WHERE c.device_id = d.id) AS has_credential,
    dc.kind AS credential_kind, dc.issued_at AS credential_issued_at, dc.rotated_at AS credential_rotated_at,
    dc.public_key AS credential_public_key, dc.rotation_failed_at AS credential_failed_at, dc.rotation_failure AS credential_failure
  FROM devices d LEFT JOIN device_credentials dc ON dc.device_id = d.id`;

function toDevice(r: Record<string, unknown>): Device {
  return {
    id: r.id as string,
    name: r.name as string,
    manufacturer: r.manufacturer as string,
    model: r.model as string,
    serialNumber: (r.serial_number as string | null) ?? null,
    firmwareBaseline: r.firmware_baseline as string,
    department: r.department as string,
    clinicalPurpose: r.clinical_purpose as string,
    criticality: r.criticality as Device['criticality'],
    address: r.address as string,
    sshPort: r.ssh_port as number,
    hostKey: (r.host_key as string | null) ?? null,
    lifecycleState: r.lifecycle_state as Device['lifecycleState'],
    policy: {
      maxSessionMinutes: r.max_session_minutes as number,
      approvalsRequired: r.approvals_required as 1 | 2,
      approverDepartment: r.approver_department as string,
      maintenanceWindow: (r.maintenance_window as DevicePolicy['maintenanceWindow']) ?? null,
      allowExec: r.allow_exec as boolean,
      allowPortForwarding: r.allow_port_forwarding as boolean,
      forwardPorts: (r.forward_ports as number[] | null) ?? [],
      idleTimeoutMinutes: Number(r.idle_timeout_minutes ?? 15),
      supervision: (r.supervision as DevicePolicy['supervision'] | null) ?? 'none',
      allowUpload: r.allow_upload as boolean,
      allowDownload: r.allow_download as boolean,
      transferPaths: (r.transfer_paths as string[] | null) ?? [],
      maxTransferMiB: r.max_transfer_mib as number,
      breakGlass: (r.break_glass as boolean | undefined) ?? false,
      breakGlassMaxMinutes: (r.break_glass_max_minutes as number | undefined) ?? 30,
      // deprecated alias (§8.3): both allow flags
      allowSftp: (r.allow_upload as boolean) && (r.allow_download as boolean),
    },
    vendorIds: r.vendor_ids as string[],
    hasCredential: r.has_credential as boolean,
    credentialKind: (r.credential_kind as Device['credentialKind']) ?? null,
    credentialIssuedAt: (r.credential_issued_at as Date | null) ?? null,
    credentialRotatedAt: (r.credential_rotated_at as Date | null) ?? null,
    credentialPublicKey: (r.credential_public_key as string | null) ?? null,
    credentialRotationFailure: r.credential_failed_at
      ? { at: r.credential_failed_at as Date, reason: r.credential_failure as string } : null,
    lastTest: r.last_test_at
      ? { at: r.last_test_at as Date, ok: r.last_test_ok as boolean, reason: (r.last_test_reason as string | null) ?? null }
      : null,
    retiredAt: (r.retired_at as Date | null) ?? null,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  };
}

const recordColumns: Record<string, string> = {
  name: 'name', manufacturer: 'manufacturer', model: 'model', serialNumber: 'serial_number',
  firmwareBaseline: 'firmware_baseline', department: 'department', clinicalPurpose: 'clinical_purpose',
  criticality: 'criticality', address: 'address', sshPort: 'ssh_port', hostKey: 'host_key',
};
// allowSftp is no column: the alias of allowUpload and allowDownload (expandPolicyAliases)
const policyColumns: Record<Exclude<keyof DevicePolicy, 'allowSftp'>, string> = {
  maxSessionMinutes: 'max_session_minutes', approvalsRequired: 'approvals_required',
  approverDepartment: 'approver_department', maintenanceWindow: 'maintenance_window', allowExec: 'allow_exec',
  allowPortForwarding: 'allow_port_forwarding', forwardPorts: 'forward_ports', idleTimeoutMinutes: 'idle_timeout_minutes', supervision: 'supervision',
  allowUpload: 'allow_upload', allowDownload: 'allow_download', transferPaths: 'transfer_paths', maxTransferMiB: 'max_transfer_mib',
  breakGlass: 'break_glass', breakGlassMaxMinutes: 'break_glass_max_minutes',
};

/** column → value pairs of a device record and policy, skipping undefined members */
function columnValues(d: DevicePatch): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, col] of Object.entries(recordColumns)) {
    const v = (d as Record<string, unknown>)[k];
    if (v !== undefined) out.push([col, v]);
  }
  const policy = d.policy ? expandPolicyAliases(d.policy) : undefined;
  for (const [k, col] of Object.entries(policyColumns)) {
    const v = (policy as Record<string, unknown> | undefined)?.[k];
    if (v !== undefined) out.push([col, k === 'maintenanceWindow' && v !== null ? JSON.stringify(v) : v]);
  }
  return out;
}

export function devicesRepo(db: Queryable): DeviceRepo {
  const byId: DeviceRepo['byId'] = async (id, opts) => {
    if (opts?.forUpdate) await db.query('SELECT 1 FROM devices WHERE id = $1 FOR UPDATE', [id]);
    else if (opts?.forShare) await db.query('SELECT 1 FROM devices WHERE id = $1 FOR SHARE', [id]);
    const { rows } = await db.query(`${SELECT} WHERE d.id = $1`, [id]);
    return rows[0] ? toDevice(rows[0]) : null;
  };
  return {
    async insert(d: NewDevice) {
      const pairs = columnValues(d);
      const { rows } = await db.query(
        `INSERT INTO devices (${pairs.map(([c]) => c).join(', ')})
         VALUES (${pairs.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
        pairs.map(([, v]) => v),
      );
      return (await byId(rows[0].id))!;
    },
    async update(id, patch) {
      const pairs = columnValues(patch);
      const sets = pairs.map(([c], i) => `${c} = $${i + 2}`);
      sets.push('updated_at = now()');
      const { rowCount } = await db.query(`UPDATE devices SET ${sets.join(', ')} WHERE id = $1`, [id, ...pairs.map(([, v]) => v)]);
      return rowCount ? byId(id) : null;
    },
    async transition(id, from, to, at) {
      const { rowCount } = await db.query(
        `UPDATE devices SET lifecycle_state = $3, updated_at = $4,
           retired_at = CASE WHEN $3 = 'retired' THEN $4::timestamptz ELSE retired_at END
         WHERE id = $1 AND lifecycle_state = $2`,
        [id, from, to, at],
      );
      return rowCount ? byId(id) : null;
    },
    byId,
    async byName(name) {
      const { rows } = await db.query(`${SELECT} WHERE d.name = $1`, [name]);
      return rows[0] ? toDevice(rows[0]) : null;
    },
    async list(f) {
      const { rows } = await db.query(
        `${SELECT}
          WHERE ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM vendor_devices vd WHERE vd.device_id = d.id AND vd.vendor_id = $1))
            AND ($2::text IS NULL OR d.department = $2)
            AND ($3::text IS NULL OR d.lifecycle_state = $3)
          ORDER BY d.name`,
        [f.vendorId ?? null, f.department ?? null, f.state ?? null],
      );
      return rows.map(toDevice);
    },
    async recordTest(id, result) {
      await db.query('UPDATE devices SET last_test_at = $2, last_test_ok = $3, last_test_reason = $4 WHERE id = $1',
        [id, result.at, result.ok, result.reason]);
    },
    async setVendors(id, vendorIds) {
      await db.query('DELETE FROM vendor_devices WHERE device_id = $1 AND NOT (vendor_id = ANY ($2::uuid[]))', [id, vendorIds]);
      await db.query(
        'INSERT INTO vendor_devices (vendor_id, device_id) SELECT unnest($2::uuid[]), $1 ON CONFLICT DO NOTHING',
        [id, vendorIds],
      );
    },
  };
}
