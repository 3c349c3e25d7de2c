import { describe, expect, it } from 'vitest';
import { addressKey, checkThrottle, countFailure, newlyLocked } from '../../server/core/login-throttle.js';

const T = new Date('2031-01-01T10:00:00Z');
const at = (minutes: number) => new Date(T.getTime() + minutes * 60_000);

describe('addressKey', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::99', '2001:db8:1:2::/64'],
    ['2001:DB8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::203.0.113.9', '64:ff9b:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    [undefined, 'unknown'],
    ['', 'unknown'],
  ])('%s counts as %s', (raw, key) => {
    expect(addressKey(raw)).toBe(key);
  });
});

describe('countFailure', () => {
  it('locks at the limit for the lock-out time, counting within a window from the first failure', () => {
    let c = countFailure(null, 3, 15, T);
    expect(c).toEqual({ failures: 1, windowStartedAt: T, lockedUntil: null });
    c = countFailure(c, 3, 15, at(5));
    c = countFailure(c, 3, 15, at(10));
    expect(c).toEqual({ failures: 3, windowStartedAt: T, lockedUntil: at(25) });
    expect(newlyLocked(null, c, at(10))).toBe(true);
  });

  it('a window that has passed, or a lock that has run out, starts a fresh count', () => {
    const late = countFailure({ failures: 2, windowStartedAt: T, lockedUntil: null }, 3, 15, at(15));
    expect(late).toEqual({ failures: 1, windowStartedAt: at(15), lockedUntil: null });
    const afterLock = countFailure({ failures: 3, windowStartedAt: T, lockedUntil: at(15) }, 3, 15, at(16));
    expect(afterLock.failures).toBe(1);
    expect(afterLock.lockedUntil).toBeNull();
  });
});

describe('checkThrottle', () => {
  const counter = (lockedUntil: Date | null) => ({ failures: 1, windowStartedAt: T, lockedUntil });
  it('passes when no lock holds now', () => {
    expect(checkThrottle({ address: counter(at(-1)), pair: null, accountLockedUntil: null }, T)).toEqual({ throttled: false });
  });
  it('names the lock that holds longest', () => {
    expect(checkThrottle({ address: counter(at(5)), pair: counter(at(9)), accountLockedUntil: at(2) }, T))
      .toEqual({ throttled: true, scope: 'account_address', retryAt: at(9) });
    expect(checkThrottle({ address: null, pair: null, accountLockedUntil: at(2) }, T))
      .toEqual({ throttled: true, scope: 'account', retryAt: at(2) });
  });
});
