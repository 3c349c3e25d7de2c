/** Claim-to-profile mapping, MFA recognised from `amr`, and the OIDC settings' checks at start-up. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { amrHasMfa, mapOidcClaims } from '../../server/core/oidc-sign-in.js';

const mapping = { rolesClaim: 'groups', roleMap: { 'pc-approvers': ['approver' as const], 'pc-admins': ['admin' as const, 'auditor' as const] }, departmentClaim: 'dept' };

describe('OIDC claims', () => {
  it('maps groups to roles, and reads department, username and name', () => {
    expect(mapOidcClaims({ groups: ['pc-admins', 'pc-approvers', 'other'], dept: ' ICU ', preferred_username: 'Nurse.Joy@hospital.example', name: 'Nurse Joy' }, mapping))
      .toEqual({ roles: ['admin', 'approver', 'auditor'], department: 'ICU', username: 'nurse.joy', displayName: 'Nurse Joy' });
    // a single group as a string; email when there is no preferred_username; given and family name
    expect(mapOidcClaims({ groups: 'pc-approvers', email: 'sam@hospital.example', given_name: 'Sam', family_name: 'Lee' }, mapping))
      .toEqual({ roles: ['approver'], department: null, username: 'sam', displayName: 'Sam Lee' });
    // nothing mapped, no usable username
    expect(mapOidcClaims({ groups: ['visitors'], preferred_username: 'x' }, mapping)).toMatchObject({ roles: [], username: null });
  });

  it('counts only second factors in amr as MFA', () => {
    expect(amrHasMfa(['pwd', 'otp'])).toBe(true);
    expect(amrHasMfa(['hwk'])).toBe(true);
    expect(amrHasMfa(['mfa'])).toBe(true);
    expect(amrHasMfa(['pwd'])).toBe(false);
    expect(amrHasMfa(undefined)).toBe(false);
    expect(amrHasMfa('otp')).toBe(false);
  });
});

describe('OIDC settings', () => {
  it('parses the role map and refuses an incomplete or insecure set-up, naming every problem', () => {
    const c = loadConfig({ OIDC_ISSUER: 'https://login.hospital.example', OIDC_CLIENT_ID: 'portcullis', OIDC_ROLE_MAP: 'staff=approver, staff=auditor,it=admin' });
    expect(c.oidc).toMatchObject({ clientId: 'portcullis', rolesClaim: 'groups', displayName: 'your hospital sign-in', allowHttp: false,
      roleMap: { staff: ['approver', 'auditor'], it: ['admin'] } });
    expect(loadConfig({}).oidc).toBeUndefined();
    expect(() => loadConfig({ OIDC_ISSUER: 'http://login.hospital.example' })).toThrow(
      /OIDC_CLIENT_ID: .*needed[\s\S]*OIDC_ROLE_MAP: .*at least one group[\s\S]*OIDC_ISSUER: must be an https URL/);
    expect(() => loadConfig({ OIDC_ISSUER: 'https://x.example', OIDC_CLIENT_ID: 'c', OIDC_ROLE_MAP: 'staff=nurse' })).toThrow(/"staff=nurse" is not group=role/);
    expect(loadConfig({ OIDC_ISSUER: 'http://127.0.0.1:9000', OIDC_CLIENT_ID: 'c', OIDC_ROLE_MAP: 'a=admin' }).oidc?.allowHttp).toBe(true);
  });
});
