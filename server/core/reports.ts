/**
 * Reports for auditors (issue 16): the monthly vendor access report — per vendor and device, the
 * sessions, the time spent in them, approvals given, break-glass accesses and files moved — and the
 * vendor accounts nobody used for 90 days. Months are UTC calendar months. Auditors and admins.
 */
import { requireOversight } from './scope.js';
import { invalid } from './errors.js';
import type { CoreDeps } from './ports.js';
import type { Actor } from './types.js';

export interface VendorAccessRow {
  vendorId: string | null;
  vendorName: string;
  deviceId: string;
  deviceName: string;
  department: string;
  sessions: number;
  /** seconds spent in sessions that started in the month (running ones up to the report's time) */
  sessionSeconds: number;
  approvals: number;
  breakGlass: number;
  transfers: number;
  transferBytes: number;
}

export interface UnusedAccount {
  userId: string;
  username: string;
  displayName: string;
  vendorId: string | null;
  vendorName: string | null;
  /** the last login or session, null when there was none */
  lastActiveAt: Date | null;
  createdAt: Date;
}

export interface ReportsRepo {
  vendorAccess(from: Date, to: Date, now: Date): Promise<VendorAccessRow[]>;
  /** enabled technician accounts with no login and no session since `since`, created before it */
  unusedAccounts(since: Date): Promise<UnusedAccount[]>;
}

/** `2031-03` → [2031-03-01, 2031-04-01) in UTC. */
export function monthRange(month: string): { from: Date; to: Date } {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) throw invalid('month must be YYYY-MM');
  const y = Number(m[1]);
  const mo = Number(m[2]) - 1;
  return { from: new Date(Date.UTC(y, mo, 1)), to: new Date(Date.UTC(y, mo + 1, 1)) };
}

export async function vendorAccessReport(deps: CoreDeps, actor: Actor, month: string): Promise<{ month: string; from: Date; to: Date; rows: VendorAccessRow[] }> {
  requireOversight(actor);
  const { from, to } = monthRange(month);
  return { month, from, to, rows: await deps.store.read.reports.vendorAccess(from, to, deps.clock.now()) };
}

export async function unusedVendorAccounts(deps: CoreDeps, actor: Actor, days = 90): Promise<{ since: Date; items: UnusedAccount[] }> {
  requireOversight(actor);
  const since = new Date(deps.clock.now().getTime() - days * 86_400_000);
  return { since, items: await deps.store.read.reports.unusedAccounts(since) };
}

const csvCell = (v: unknown): string => {
  let s = v instanceof Date ? v.toISOString() : v === null || v === undefined ? '' : String(v);
  // a cell a spreadsheet would run as a formula is quoted as text
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** RFC 4180 CSV with a header line. */
export function toCsv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

export function vendorAccessCsv(rows: VendorAccessRow[]): string {
  return toCsv(
    ['vendor', 'device', 'department', 'sessions', 'hours', 'approvals', 'break_glass', 'transfers', 'transfer_bytes'],
    rows.map((r) => [r.vendorName, r.deviceName, r.department, r.sessions, (r.sessionSeconds / 3600).toFixed(2), r.approvals, r.breakGlass, r.transfers, r.transferBytes]),
  );
}

export function unusedAccountsCsv(items: UnusedAccount[]): string {
  return toCsv(['username', 'display_name', 'vendor', 'last_active_at', 'created_at'], items.map((u) => [u.username, u.displayName, u.vendorName, u.lastActiveAt, u.createdAt]));
}
