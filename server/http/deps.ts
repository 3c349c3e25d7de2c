import type { Registry } from 'prom-client';
import type { CoreDeps } from '../core/ports.js';
import type { Logger } from '../logger.js';
import type { OidcSignIn } from './oidc-flow.js';

/** What the HTTP app needs: the core's deps plus transport settings. */
export interface HttpDeps extends CoreDeps {
  logger: Logger;
  metrics: Registry;
  web: { cookieSecure: boolean; publicUrl: string; staticDir?: string };
  /** true when the database answers */
  healthy(): Promise<boolean>;
  /** METRICS_TOKEN: /metrics needs it as a bearer token; unset, only loopback callers get metrics */
  metricsToken?: string;
  version: string;
  /** single sign-on through the hospital's OpenID Provider; absent when OIDC_ISSUER is not set */
  oidc?: OidcSignIn;
}
