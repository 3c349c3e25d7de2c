// The user's own second factors (/me/security): passkeys, an authenticator app, recovery codes. A user
// whose role requires a second factor and who has none (user.mfaEnrolmentRequired) sees only this page
// — the broker refuses everything else until then — and enters the console once one is set up and the
// recovery codes are stored.
import { useEffect, useState } from 'react';
import type { MfaStatus } from '../api/types';
import { PasskeysCard } from '../components/passkeys-card';
import { RecoveryCodesCard, RecoveryCodesShown } from '../components/recovery-codes';
import { TotpCard } from '../components/totp-card';
import { ErrorBox, Loading, Page } from '../components/ui';
import { useApi } from '../lib/hooks';
import { navigate, useLocation } from '../lib/router';
import { useSession, useUser } from '../lib/session';

export const SECURITY_PATH = '/me/security';

const hasFactor = (s: MfaStatus) => !!s.totp?.enrolled || s.passkeys.length > 0;

export function SecurityPage() {
  const me = useUser();
  const { refreshUser } = useSession();
  const status = useApi<MfaStatus>('/api/me/mfa');
  // a new set of recovery codes, until the user says they stored them
  const [codes, setCodes] = useState<string[] | null>(null);
  const s = status.data;
  const enrolling = !!me.mfaEnrolmentRequired;

  // the first factor is set up and nothing is left to show: the rest of the console opens
  useEffect(() => {
    if (enrolling && s && hasFactor(s) && !codes) void refreshUser().then(() => navigate('/', { replace: true }));
  }, [enrolling, s, codes, refreshUser]);

  const changed = (newCodes?: string[]) => {
    if (newCodes?.length) setCodes(newCodes);
    status.reload();
  };

  return (
    <Page title="Security" subtitle="How you confirm it is you: when signing in, and before approving or denying access.">
      {enrolling && (
        <div className="alert alert-warn" role="status" data-testid="mfa-enrolment-required">
          <strong>Set up a second factor to continue.</strong> Your role in Portcullis requires more than a password:
          add a passkey or an authenticator app. The rest of the console opens once one is set up.
        </div>
      )}
      {codes && <RecoveryCodesShown codes={codes} onStored={() => setCodes(null)} />}
      <ErrorBox error={status.error} />
      {!s ? (!status.error && <Loading />) : (
        <div className="stack security">
          {!enrolling && s.required && !hasFactor(s) && (
            <div className="alert alert-warn">Your role requires a second factor: set one up below.</div>
          )}
          <PasskeysCard status={s} onChange={changed} />
          <TotpCard status={s} onChange={changed} />
          {hasFactor(s) && <RecoveryCodesCard status={s} onNewCodes={(c) => changed(c)} />}
        </div>
      )}
    </Page>
  );
}

/** For a user who must enrol first: any address shows the security page, at its own address. */
export function MfaEnrolmentGate() {
  const { pathname } = useLocation();
  useEffect(() => {
    if (pathname !== SECURITY_PATH) navigate(SECURITY_PATH, { replace: true });
  }, [pathname]);
  return pathname === SECURITY_PATH ? <SecurityPage /> : null;
}
