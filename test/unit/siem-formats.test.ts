/** SIEM formats: CEF escaping round-trips, the OCSF class mapping, RFC 5424 octet framing. */
import { describe, expect, it } from 'vitest';
import { cefHeader, cefValue, parseCef, toCef } from '../../server/siem/cef.js';
import { ocsfClassOf, toOcsf } from '../../server/siem/ocsf.js';
import type { SiemEvent } from '../../server/siem/siem-event.js';
import { octetFrame, syslogMessage } from '../../server/siem/syslog.js';

const event = (action: string, details: Record<string, unknown> = {}): SiemEvent => ({
  event: {
    seq: 42, at: new Date('2031-03-03T09:00:00Z'), actorType: 'user', actorId: 'u1', action, subjectType: 'device', subjectId: 'd1',
    details, prevHash: '0'.repeat(64), hash: 'a'.repeat(64),
  },
  actor: { id: 'u1', username: 'alice', displayName: 'Alice' },
  subjectUser: null,
  device: { id: 'd1', name: 'pump-1', manufacturer: 'Acme | Medical', model: 'X=1', serialNumber: 'S\\N', department: 'ICU\nnorth' },
});

describe('CEF', () => {
  it('escapes header pipes and backslashes, extension equals signs, backslashes and line breaks', () => {
    expect(cefHeader('a|b\\c\nd')).toBe('a\\|b\\\\c d');
    expect(cefValue('a=b\\c\r\nd\re')).toBe('a\\=b\\\\c\\nd\\re');
    const line = toCef(event('device.updated', { note: 'x=1 | y\nz' }), '1.0');
    expect(line).not.toMatch(/\n/);
    const { header, ext } = parseCef(line);
    expect(header).toEqual(['CEF:0', 'Portcullis', 'Portcullis', '1.0', 'device.updated', 'device updated', '3']);
    expect(ext).toMatchObject({ cs1: 'Acme | Medical', cs2: 'X=1', cs3: 'S\\N', cs4: 'ICU\nnorth', suser: 'alice', dvchost: 'pump-1', externalId: '42', act: 'device.updated' });
    expect(JSON.parse(ext.msg!)).toEqual({ note: 'x=1 | y\nz' });
  });

  it('marks refusals as failures with a higher severity', () => {
    const { header, ext } = parseCef(toCef(event('auth.login_failed'), '1.0'));
    expect(ext.outcome).toBe('failure');
    expect(Number(header[6])).toBeGreaterThan(3);
    expect(parseCef(toCef(event('audit.verification_failed'), '1.0')).header[6]).toBe('10');
  });
});

describe('OCSF', () => {
  it.each([
    ['auth.login', 3002, 1], ['auth.logout', 3002, 2], ['auth.login_failed', 3002, 1],
    ['user.created', 3001, 1], ['user.password_changed', 3001, 3], ['user.disabled', 3001, 5],
    ['device.enrolled', 3004, 1], ['grant.revoked', 3004, 4], ['request.approved', 3004, 99], ['vendor.updated', 3004, 3],
    ['session.started', 6003, 1], ['transfer.completed', 6003, 99], ['session.watched', 6003, 2],
  ])('%s → class %i, activity %i', (action, cls, activity) => {
    expect(ocsfClassOf(action).classUid).toBe(cls);
    const o = toOcsf(event(action), '1.0');
    expect(o).toMatchObject({ class_uid: cls, activity_id: activity, type_uid: cls * 100 + activity });
    expect(o.device).toMatchObject({ name: 'pump-1', vendor_name: 'Acme | Medical', model: 'X=1', hw_info: { serial_number: 'S\\N' }, org: { ou_name: 'ICU\nnorth' } });
  });
});

describe('RFC 5424 / RFC 6587', () => {
  it('frames by the UTF-8 byte length', () => {
    const msg = syslogMessage({ at: new Date('2031-03-03T09:00:00Z'), hostname: 'bro ker', action: 'device.updated', msg: 'é' });
    expect(msg).toBe('<110>1 2031-03-03T09:00:00.000Z broker portcullis - device.updated - é');
    const frame = octetFrame(msg);
    expect(frame.toString('utf8')).toBe(`${Buffer.byteLength(msg)} ${msg}`);
  });
});
