/**
 * Pure rules of the access workflow: windows, maintenance hours, request TTLs, warning times.
 * No I/O; every function takes the current time explicitly.
 */
import { invalid } from './errors.js';
import type { MaintenanceWindow } from './types.js';

const MINUTE = 60_000;
/** a requested start this far in the past is still "now" (clock skew between browser and broker) */
export const START_TOLERANCE_MS = 2 * MINUTE;
export const MAX_ADVANCE_DAYS = 90;
export const WARNING_MINUTES = [5, 1] as const;

export interface Window {
  startsAt: Date;
  endsAt: Date;
}

export const addMinutes = (d: Date, minutes: number) => new Date(d.getTime() + minutes * MINUTE);

/** Validates a requested start (absent = when approved) against now. */
export function checkRequestedStart(startsAt: Date | undefined, now: Date): void {
  if (!startsAt) return;
  if (startsAt.getTime() < now.getTime() - START_TOLERANCE_MS) throw invalid('startsAt is in the past');
  if (startsAt.getTime() > now.getTime() + MAX_ADVANCE_DAYS * 24 * 60 * MINUTE) {
    throw invalid(`startsAt is more than ${MAX_ADVANCE_DAYS} days ahead`);
  }
}

/**
 * The grant window for a request approved at `approvedAt`. Requests "for now" start at approval with
 * their full duration; scheduled requests keep their window, shortened if approval came late.
 * Returns null when the requested window has already passed.
 */
export function grantWindow(
  req: { startsAt: Date; startsOnApproval: boolean; durationMinutes: number },
  approvedAt: Date,
): Window | null {
  if (req.startsOnApproval) return { startsAt: approvedAt, endsAt: addMinutes(approvedAt, req.durationMinutes) };
  const endsAt = addMinutes(req.startsAt, req.durationMinutes);
  const startsAt = req.startsAt > approvedAt ? req.startsAt : approvedAt;
  return endsAt.getTime() - startsAt.getTime() >= MINUTE ? { startsAt, endsAt } : null;
}

/** When a pending request lapses: after the TTL, or once its fixed window has ended. */
export function requestExpiry(
  req: { startsAt: Date; startsOnApproval: boolean; durationMinutes: number },
  createdAt: Date,
  ttlHours: number,
): Date {
  const ttl = new Date(createdAt.getTime() + ttlHours * 60 * MINUTE);
  if (req.startsOnApproval) return ttl;
  const end = addMinutes(req.startsAt, req.durationMinutes);
  return end < ttl ? end : ttl;
}

/** The local weekday (1 = Monday … 7 = Sunday) and minute of day of `at` in `timeZone`. */
export function localTime(at: Date, timeZone: string): { day: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const day = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(get('weekday')) + 1;
  return { day, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * True when [startsAt, endsAt) lies inside one occurrence of the maintenance window. Windows whose
 * end is before their start run past midnight into the next day. (Across a DST change the
 * occurrence is measured in wall-clock minutes, so it may be an hour longer or shorter.)
 */
export function withinMaintenanceWindow(w: MaintenanceWindow | null, win: Window): boolean {
  if (!w) return true;
  const { day, minute } = localTime(win.startsAt, w.timezone);
  const start = toMinutes(w.start);
  const end = toMinutes(w.end);
  let minutesLeft: number | null = null;
  if (start < end) {
    if (w.days.includes(day) && minute >= start && minute < end) minutesLeft = end - minute;
  } else {
    const yesterday = day === 1 ? 7 : day - 1;
    if (w.days.includes(day) && minute >= start) minutesLeft = 24 * 60 - minute + end;
    else if (w.days.includes(yesterday) && minute < end) minutesLeft = end - minute;
  }
  return minutesLeft !== null && win.endsAt.getTime() <= win.startsAt.getTime() + minutesLeft * MINUTE;
}

/** Warning times before `endsAt` that are still ahead of `now`. */
export function warningsDue(endsAt: Date, now: Date): { minutesLeft: 5 | 1; at: Date }[] {
  return WARNING_MINUTES.map((m) => ({ minutesLeft: m, at: addMinutes(endsAt, -m) })).filter((w) => w.at > now);
}

/** True when the vendor's contract (last day, UTC) still covers the whole window. */
export function contractCovers(contractEnd: string, win: Window): boolean {
  const lastInstant = new Date(`${contractEnd}T23:59:59.999Z`);
  return win.endsAt <= lastInstant;
}
