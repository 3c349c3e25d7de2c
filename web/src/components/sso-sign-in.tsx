// "Sign in with <the hospital's identity provider>" on the login page, shown only when the broker says
// single sign-on is configured (GET /api/auth/config). It is a plain link: the sign-in is a browser
// redirect to the provider and back, after which the broker sends the browser to `next`.
import { useEffect, useState } from 'react';
import { get } from '../api/client';
import type { AuthConfig } from '../api/types';

export function SsoSignIn({ next }: { next: string | null }) {
  const [config, setConfig] = useState<AuthConfig | null>(null);
  useEffect(() => {
    // no configuration readable: the password form is all there is
    get<AuthConfig>('/api/auth/config').then(setConfig, () => setConfig(null));
  }, []);
  if (!config?.oidc.enabled) return null;
  // only a path on this site goes along; the broker checks it again
  const target = next && next.startsWith('/') && !next.startsWith('//') ? `?next=${encodeURIComponent(next)}` : '';
  return (
    <div className="sso-sign-in">
      <a className="btn btn-block" href={`/api/auth/oidc/login${target}`} data-testid="sso-sign-in">
        Sign in with {config.oidc.displayName}
      </a>
      <p className="muted sso-or">or log in with a Portcullis account</p>
    </div>
  );
}
