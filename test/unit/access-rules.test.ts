/** The pure rules of the access workflow: windows, TTLs, maintenance hours, warnings, contract, start. */
import { describe, expect, it } from 'vitest';
import {
  addMinutes, checkRequestedStart, contractCovers, grantWindow, localTime, MAX_ADVANCE_DAYS, requestExpiry,
  START_TOLERANCE_MS, warningsDue, withinMaintenanceWindow,
} from '../../server/core/access-rules.js';
import { AppError } from '../../server/core/errors.js';
import type { MaintenanceWindow } from '../../server/core/types.js';

const at = (iso: string) => new Date(iso);
const win = (start: string, end: string) => ({ startsAt: at(start), endsAt: at(end) });
const MIN = 60_000;
const HOUR = 60 * MIN;

// 2031-03-03 is a Monday; Berlin is on CET (UTC+1) until 2031-03-30, then CEST (UTC+2)
const MON = '2031-03-03';
const TUE = '2031-03-04';
const SAT = '2031-03-08';
const SUN = '2031-03-09';
const NEXT_MON = '2031-03-10';

describe('grantWindow', () => {
  const t0 = at(`${MON}T09:00:00Z`);

  it('a request for "now" gets its full duration from the approval, however late it came', () => {
    const req = { startsAt: t0, startsOnApproval: true, durationMinutes: 60 };
    expect(grantWindow(req, t0)).toEqual({ startsAt: t0, endsAt: addMinutes(t0, 60) });
    const approved = new Date(t0.getTime() + 3 * HOUR);
    expect(grantWindow(req, approved)).toEqual({ startsAt: approved, endsAt: addMinutes(approved, 60) });
    // a day later still the full hour: the clock starts at the window start, never at request time
    const nextDay = new Date(t0.getTime() + 23 * HOUR);
    expect(grantWindow(req, nextDay)).toEqual({ startsAt: nextDay, endsAt: addMinutes(nextDay, 60) });
  });

  it('a scheduled request approved before its start keeps its window', () => {
    const start = new Date(t0.getTime() + 24 * HOUR);
    const req = { startsAt: start, startsOnApproval: false, durationMinutes: 45 };
    expect(grantWindow(req, t0)).toEqual({ startsAt: start, endsAt: addMinutes(start, 45) });
    // approved exactly at the start: same window
    expect(grantWindow(req, start)).toEqual({ startsAt: start, endsAt: addMinutes(start, 45) });
  });

  it('a late approval shortens a scheduled window: the end never moves', () => {
    const req = { startsAt: t0, startsOnApproval: false, durationMinutes: 60 };
    const late = addMinutes(t0, 20);
    expect(grantWindow(req, late)).toEqual({ startsAt: late, endsAt: addMinutes(t0, 60) });
    // one minute left is still a window
    expect(grantWindow(req, addMinutes(t0, 59))).toEqual({ startsAt: addMinutes(t0, 59), endsAt: addMinutes(t0, 60) });
  });

  it('a window that has passed (or has less than a minute left) gives no grant', () => {
    const req = { startsAt: t0, startsOnApproval: false, durationMinutes: 60 };
    expect(grantWindow(req, addMinutes(t0, 60))).toBeNull();
    expect(grantWindow(req, addMinutes(t0, 59.5))).toBeNull();
    expect(grantWindow(req, addMinutes(t0, 24 * 60))).toBeNull();
  });
});

describe('requestExpiry', () => {
  const created = at(`${MON}T09:00:00Z`);

  it('a request for "now" lapses after the TTL', () => {
    expect(requestExpiry({ startsAt: created, startsOnApproval: true, durationMinutes: 60 }, created, 24)).toEqual(
      new Date(created.getTime() + 24 * HOUR));
    expect(requestExpiry({ startsAt: created, startsOnApproval: true, durationMinutes: 60 }, created, 4)).toEqual(
      new Date(created.getTime() + 4 * HOUR));
  });

  it('a scheduled request lapses at its window end when that comes before the TTL', () => {
    const start = new Date(created.getTime() + 2 * HOUR);
    expect(requestExpiry({ startsAt: start, startsOnApproval: false, durationMinutes: 30 }, created, 24)).toEqual(addMinutes(start, 30));
  });

  it('a request scheduled days ahead still lapses after the TTL', () => {
    const start = new Date(created.getTime() + 72 * HOUR);
    expect(requestExpiry({ startsAt: start, startsOnApproval: false, durationMinutes: 30 }, created, 24)).toEqual(
      new Date(created.getTime() + 24 * HOUR));
  });
});

describe('localTime', () => {
  it('gives the weekday (Mon = 1 … Sun = 7) and minute of day in the zone, midnight as 0', () => {
    expect(localTime(at(`${MON}T12:34:00Z`), 'UTC')).toEqual({ day: 1, minute: 12 * 60 + 34 });
    expect(localTime(at(`${SUN}T23:59:00Z`), 'UTC')).toEqual({ day: 7, minute: 23 * 60 + 59 });
    expect(localTime(at(`${TUE}T00:00:00Z`), 'UTC')).toEqual({ day: 2, minute: 0 });
    // 23:30 UTC Monday is 00:30 Tuesday in Berlin (CET)
    expect(localTime(at(`${MON}T23:30:00Z`), 'Europe/Berlin')).toEqual({ day: 2, minute: 30 });
  });
});

describe('withinMaintenanceWindow', () => {
  const weekdaysDaytime: MaintenanceWindow = { days: [1, 2, 3, 4, 5], start: '08:00', end: '17:00', timezone: 'UTC' };

  it('null means any time', () => {
    expect(withinMaintenanceWindow(null, win(`${SUN}T03:00:00Z`, `${SUN}T04:00:00Z`))).toBe(true);
  });

  it('a same-day window: inside, ending exactly at its end, starting at its start', () => {
    expect(withinMaintenanceWindow(weekdaysDaytime, win(`${MON}T09:00:00Z`, `${MON}T10:00:00Z`))).toBe(true);
    expect(withinMaintenanceWindow(weekdaysDaytime, win(`${MON}T08:00:00Z`, `${MON}T09:00:00Z`))).toBe(true);
    expect(withinMaintenanceWindow(weekdaysDaytime, win(`${MON}T16:00:00Z`, `${MON}T17:00:00Z`))).toBe(true);
  });

  it('a same-day window: before the start, at the end, or running past the end is outside', () => {
    expect(withinMaintenanceWindow(weekdaysDaytime, win(`${MON}T07:59:00Z`, `${MON}T08:30:00Z`))).toBe(false);
    expect(withinMaintenanceWindow(weekdaysDaytime, win(`${MON}T17:00:00Z`, `${MON}T17:30:00Z`))).toBe(false);
    expect(withinMaintenanceWindow(weekdaysDaytime, win(`${MON}T16:30:00Z`, `${MON}T17:01:00Z`))).toBe(false);
    // not into the next day's occurrence either
    expect(withinMaintenanceWindow(weekdaysDaytime, win(`${MON}T16:00:00Z`, `${TUE}T09:00:00Z`))).toBe(false);
  });

  it('the wrong weekday is outside', () => {
    expect(withinMaintenanceWindow(weekdaysDaytime, win(`${SAT}T09:00:00Z`, `${SAT}T10:00:00Z`))).toBe(false);
    expect(withinMaintenanceWindow(weekdaysDaytime, win(`${SUN}T09:00:00Z`, `${SUN}T10:00:00Z`))).toBe(false);
    const mondaysOnly = { ...weekdaysDaytime, days: [1] };
    expect(withinMaintenanceWindow(mondaysOnly, win(`${TUE}T09:00:00Z`, `${TUE}T10:00:00Z`))).toBe(false);
    expect(withinMaintenanceWindow(mondaysOnly, win(`${NEXT_MON}T09:00:00Z`, `${NEXT_MON}T10:00:00Z`))).toBe(true);
  });

  describe('a window crossing midnight (Mondays 22:00–04:00)', () => {
    const night: MaintenanceWindow = { days: [1], start: '22:00', end: '04:00', timezone: 'UTC' };

    it('covers the evening and runs on into Tuesday morning', () => {
      expect(withinMaintenanceWindow(night, win(`${MON}T22:00:00Z`, `${MON}T23:00:00Z`))).toBe(true);
      expect(withinMaintenanceWindow(night, win(`${MON}T23:00:00Z`, `${TUE}T01:00:00Z`))).toBe(true);
      expect(withinMaintenanceWindow(night, win(`${MON}T22:00:00Z`, `${TUE}T04:00:00Z`))).toBe(true);
    });

    it('the early-morning part belongs to the previous day', () => {
      // Tuesday 02:00 is Monday night's occurrence
      expect(withinMaintenanceWindow(night, win(`${TUE}T02:00:00Z`, `${TUE}T03:00:00Z`))).toBe(true);
      expect(withinMaintenanceWindow(night, win(`${TUE}T00:00:00Z`, `${TUE}T04:00:00Z`))).toBe(true);
      // Monday 02:00 belongs to Sunday night, which is not a maintenance night
      expect(withinMaintenanceWindow(night, win(`${MON}T02:00:00Z`, `${MON}T03:00:00Z`))).toBe(false);
    });

    it('Sunday night runs on into Monday morning (the week wraps)', () => {
      const sundayNight = { ...night, days: [7] };
      expect(withinMaintenanceWindow(sundayNight, win(`${NEXT_MON}T01:00:00Z`, `${NEXT_MON}T02:00:00Z`))).toBe(true);
      expect(withinMaintenanceWindow(sundayNight, win(`${MON}T23:00:00Z`, `${TUE}T00:30:00Z`))).toBe(false);
    });

    it('outside: Tuesday evening, daytime, and a session running past 04:00', () => {
      expect(withinMaintenanceWindow(night, win(`${TUE}T22:30:00Z`, `${TUE}T23:00:00Z`))).toBe(false);
      expect(withinMaintenanceWindow(night, win(`${MON}T12:00:00Z`, `${MON}T13:00:00Z`))).toBe(false);
      expect(withinMaintenanceWindow(night, win(`${TUE}T03:30:00Z`, `${TUE}T04:30:00Z`))).toBe(false);
      expect(withinMaintenanceWindow(night, win(`${MON}T23:00:00Z`, `${TUE}T05:00:00Z`))).toBe(false);
      expect(withinMaintenanceWindow(night, win(`${TUE}T04:00:00Z`, `${TUE}T04:30:00Z`))).toBe(false);
    });
  });

  describe('time zones', () => {
    const berlin: MaintenanceWindow = { ...weekdaysDaytime, days: [1], timezone: 'Europe/Berlin' };
    const utc: MaintenanceWindow = { ...berlin, timezone: 'UTC' };

    it('08:00–17:00 Berlin is 07:00–16:00 UTC in winter', () => {
      // 07:30Z = 08:30 CET
      expect(withinMaintenanceWindow(berlin, win(`${MON}T07:30:00Z`, `${MON}T08:30:00Z`))).toBe(true);
      expect(withinMaintenanceWindow(utc, win(`${MON}T07:30:00Z`, `${MON}T08:30:00Z`))).toBe(false);
      // 16:30Z = 17:30 CET
      expect(withinMaintenanceWindow(berlin, win(`${MON}T15:30:00Z`, `${MON}T16:30:00Z`))).toBe(false);
      expect(withinMaintenanceWindow(utc, win(`${MON}T15:30:00Z`, `${MON}T16:30:00Z`))).toBe(true);
    });

    it('and 06:00–15:00 UTC in summer', () => {
      const july = '2031-07-07'; // a Monday, CEST
      expect(withinMaintenanceWindow(berlin, win(`${july}T06:00:00Z`, `${july}T07:00:00Z`))).toBe(true);
      expect(withinMaintenanceWindow(berlin, win(`${july}T05:30:00Z`, `${july}T06:30:00Z`))).toBe(false);
      expect(withinMaintenanceWindow(berlin, win(`${july}T14:30:00Z`, `${july}T15:30:00Z`))).toBe(false);
    });

    it('the weekday is the local one: late Sunday UTC is already Monday in Berlin', () => {
      expect(withinMaintenanceWindow({ ...berlin, start: '00:00', end: '02:00' }, win(`${SUN}T23:15:00Z`, `${SUN}T23:45:00Z`))).toBe(true);
      expect(withinMaintenanceWindow({ ...utc, start: '00:00', end: '02:00' }, win(`${SUN}T23:15:00Z`, `${SUN}T23:45:00Z`))).toBe(false);
    });
  });
});

describe('warningsDue', () => {
  const now = at(`${MON}T09:00:00Z`);

  it('gives the T-5 and T-1 warnings that are still ahead', () => {
    const endsAt = addMinutes(now, 60);
    expect(warningsDue(endsAt, now)).toEqual([
      { minutesLeft: 5, at: addMinutes(endsAt, -5) },
      { minutesLeft: 1, at: addMinutes(endsAt, -1) },
    ]);
    expect(warningsDue(addMinutes(now, 3), now)).toEqual([{ minutesLeft: 1, at: addMinutes(now, 2) }]);
    expect(warningsDue(addMinutes(now, 0.5), now)).toEqual([]);
  });

  it('a warning due exactly now is not due again (it has just been given)', () => {
    expect(warningsDue(addMinutes(now, 5), now)).toEqual([{ minutesLeft: 1, at: addMinutes(now, 4) }]);
    expect(warningsDue(addMinutes(now, 1), now)).toEqual([]);
  });
});

describe('contractCovers', () => {
  it('the end date is the last day of access, through 23:59:59.999 UTC', () => {
    expect(contractCovers(MON, win(`${MON}T09:00:00Z`, `${MON}T23:59:59.999Z`))).toBe(true);
    expect(contractCovers(MON, win(`${MON}T23:30:00Z`, `${TUE}T00:00:00Z`))).toBe(false);
    expect(contractCovers(MON, win(`${TUE}T09:00:00Z`, `${TUE}T10:00:00Z`))).toBe(false);
    expect(contractCovers('2099-12-31', win(`${MON}T09:00:00Z`, `${MON}T10:00:00Z`))).toBe(true);
  });
});

describe('checkRequestedStart', () => {
  const now = at(`${MON}T09:00:00Z`);
  const refusal = (startsAt: Date) => {
    try {
      checkRequestedStart(startsAt, now);
    } catch (e) {
      return e;
    }
    return null;
  };

  it('absent, now, slightly in the past (clock skew) and up to 90 days ahead are fine', () => {
    expect(() => checkRequestedStart(undefined, now)).not.toThrow();
    expect(() => checkRequestedStart(now, now)).not.toThrow();
    expect(() => checkRequestedStart(new Date(now.getTime() - START_TOLERANCE_MS), now)).not.toThrow();
    expect(() => checkRequestedStart(addMinutes(now, MAX_ADVANCE_DAYS * 24 * 60), now)).not.toThrow();
  });

  it('further in the past than the tolerance is invalid (400)', () => {
    const e = refusal(new Date(now.getTime() - START_TOLERANCE_MS - 1000));
    expect(e).toBeInstanceOf(AppError);
    expect(e).toMatchObject({ kind: 'invalid', message: expect.stringMatching(/startsAt.*past/) });
    expect(refusal(addMinutes(now, -60 * 24))).toMatchObject({ kind: 'invalid' });
  });

  it('more than 90 days ahead is invalid (400)', () => {
    const e = refusal(addMinutes(now, MAX_ADVANCE_DAYS * 24 * 60 + 1));
    expect(e).toBeInstanceOf(AppError);
    expect(e).toMatchObject({ kind: 'invalid', message: expect.stringMatching(/startsAt.*90 days/) });
  });
});
