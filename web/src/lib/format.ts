import type { EndReason } from '../api/types';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSec = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

export const fmtTime = (iso: string | null | undefined) => (iso ? dateTime.format(new Date(iso)) : '—');
export const fmtTimeSec = (iso: string | null | undefined) => (iso ? dateTimeSec.format(new Date(iso)) : '—');
export const fmtClock = (iso: string) => timeOnly.format(new Date(iso));

/** "1 h 05 min", "4 min 12 s", "12 s": a countdown a person reads at a glance. */
export function fmtCountdown(ms: number): string {
  if (ms <= 0) return '0 s';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(sec).padStart(2, '0')} s`;
  return `${sec} s`;
}

export function fmtMinutes(min: number): string {
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  const m = min % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export const shortId = (id: string) => id.slice(0, 8);

const END_REASONS: Record<EndReason, string> = {
  client_closed: 'closed by the technician',
  device_closed: 'the device closed the connection',
  expired: 'the access window ended',
  revoked: 'cut off by an approver or administrator',
  idle: 'closed after no input for the device\'s idle timeout',
  error: 'an error ended it',
};

export const endReasonText = (r: string | null | undefined) => (r ? (END_REASONS[r as EndReason] ?? r.replace(/_/g, ' ')) : 'live');

const DAYS = ['', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
export const fmtDays = (days: number[]) => days.map((d) => DAYS[d]).join(', ');

/** An <input type="datetime-local"> value for a time, in the browser's zone. */
export function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** An ISO time with zone from a datetime-local value (read in the browser's zone). */
export function fromLocalInput(v: string): string {
  return new Date(v).toISOString();
}
