/**
 * The OpenID Connect authorization code flow with the hospital's provider (openid-client 6, functional
 * API). Invariants: every sign-in uses PKCE (S256), a fresh state and a fresh nonce; they live only in a
 * signed, httpOnly, 10-minute cookie bound to the browser that started the flow, so a callback URL
 * opened in another browser (login CSRF), a wrong state, a wrong nonce or a replayed code is refused.
 * Discovery happens at the first sign-in (the provider may be down when the broker starts) and is
 * retried after a failure.
 */
import type { KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { amrHasMfa, type OidcIdentity, type OidcMapping } from '../core/oidc-sign-in.js';

export interface OidcSettings extends OidcMapping {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** shown on the login page: "Sign in with <displayName>" */
  displayName: string;
  /** plain http issuer (loopback only; config checks it) */
  allowHttp: boolean;
}

/** Why a flow could not complete, in words for the person and a reason for the audit log. */
export class OidcFlowError extends Error {
  constructor(readonly reason: 'no_flow' | 'state_mismatch' | 'nonce_mismatch' | 'provider_error' | 'invalid_response' | 'provider_unreachable', message: string) {
    super(message);
    this.name = 'OidcFlowError';
  }
}

export const OIDC_FLOW_COOKIE = 'portcullis_oidc';
export const OIDC_CALLBACK_PATH = '/api/auth/oidc/callback';
export const OIDC_FLOW_SECONDS = 600;
const FLOW_AUDIENCE = 'portcullis-oidc-flow';
const SCOPE = 'openid profile email';

interface FlowState {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** where the console goes afterwards (a path on this site) */
  next: string;
}

export interface OidcSignIn {
  settings: OidcSettings;
  /** a new flow: the provider's authorization URL and the signed cookie value that carries its secrets */
  start(next: string): Promise<{ url: URL; cookie: string }>;
  /** completes a flow from the callback URL and the flow cookie: the verified identity and where to go next */
  finish(currentUrl: URL, cookie: string | undefined): Promise<{ identity: Omit<OidcIdentity, 'clientAddress'>; next: string }>;
}

export function createOidcSignIn(settings: OidcSettings, opts: { publicUrl: string; keys: { signing: KeyObject; verifying: KeyObject } }): OidcSignIn {
  const redirectUri = `${opts.publicUrl}${OIDC_CALLBACK_PATH}`;
  let discovered: Promise<client.Configuration> | null = null;
  const configuration = () => {
    discovered ??= client
      .discovery(
        new URL(settings.issuer), settings.clientId, settings.clientSecret,
        settings.clientSecret ? client.ClientSecretBasic(settings.clientSecret) : client.None(),
        settings.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((err: unknown) => {
        discovered = null; // try again at the next sign-in
        throw new OidcFlowError('provider_unreachable', `the identity provider could not be reached (${(err as Error).message})`);
      });
    return discovered;
  };

  const sealFlow = (f: FlowState) =>
    new SignJWT({ typ: 'oidc-flow', st: f.state, n: f.nonce, cv: f.codeVerifier, nx: f.next })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setAudience(FLOW_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${OIDC_FLOW_SECONDS}s`)
      .sign(opts.keys.signing);

  const openFlow = async (cookie: string | undefined): Promise<FlowState> => {
    if (!cookie) throw new OidcFlowError('no_flow', 'no sign-in was started in this browser, or it took longer than 10 minutes');
    try {
      const { payload: p } = await jwtVerify(cookie, opts.keys.verifying, { audience: FLOW_AUDIENCE, algorithms: ['EdDSA'] });
      if (p.typ !== 'oidc-flow' || typeof p.st !== 'string' || typeof p.n !== 'string' || typeof p.cv !== 'string' || typeof p.nx !== 'string') throw new Error('malformed');
      return { state: p.st, nonce: p.n, codeVerifier: p.cv, next: p.nx };
    } catch {
      throw new OidcFlowError('no_flow', 'no sign-in was started in this browser, or it took longer than 10 minutes');
    }
  };

  return {
    settings,
    async start(next) {
      const config = await configuration();
      const flow: FlowState = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier(), next };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri, scope: SCOPE, state: flow.state, nonce: flow.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(flow.codeVerifier), code_challenge_method: 'S256',
      });
      return { url, cookie: await sealFlow(flow) };
    },
    async finish(currentUrl, cookie) {
      const flow = await openFlow(cookie);
      // our own check first, so a mismatch is named as such (openid-client checks it again)
      if (currentUrl.searchParams.get('state') !== flow.state) {
        throw new OidcFlowError('state_mismatch', 'the answer from the identity provider does not belong to the sign-in started in this browser');
      }
      const config = await configuration();
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(config, currentUrl,
          { pkceCodeVerifier: flow.codeVerifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });
      } catch (err) {
        throw classify(err);
      }
      const claims = tokens.claims();
      if (!claims) throw new OidcFlowError('invalid_response', 'the identity provider returned no ID token');
      let merged: Record<string, unknown> = { ...claims };
      // some providers put groups or the department in userinfo only
      const wanted = [settings.rolesClaim, settings.departmentClaim].filter((c): c is string => Boolean(c));
      if (wanted.some((c) => claims[c] === undefined) && config.serverMetadata().userinfo_endpoint) {
        try {
          const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
          merged = { ...info, ...claims };
        } catch (err) {
          throw classify(err);
        }
      }
      return {
        identity: { issuer: claims.iss, subject: claims.sub, claims: merged, mfa: amrHasMfa(claims.amr) },
        next: flow.next,
      };
    },
  };
}

function classify(err: unknown): OidcFlowError {
  if (err instanceof OidcFlowError) return err;
  if (err instanceof client.AuthorizationResponseError) {
    return new OidcFlowError('provider_error', `the identity provider refused the sign-in (${err.error}${err.error_description ? `: ${err.error_description}` : ''})`);
  }
  // openid-client wraps oauth4webapi's error, whose message (and cause) names the claim that did not match
  const chain: { message?: unknown; cause?: unknown; claim?: unknown }[] = [];
  for (let e = err as (typeof chain)[number] | undefined, i = 0; e && typeof e === 'object' && i < 4; e = e.cause as (typeof chain)[number], i++) chain.push(e);
  const message = chain.map((e) => (typeof e.message === 'string' ? e.message : '')).filter(Boolean).join(': ') || String(err);
  if (chain.some((e) => e.claim === 'nonce') || /nonce/i.test(message)) return new OidcFlowError('nonce_mismatch', 'the identity provider\'s ID token was not issued for this sign-in (nonce mismatch)');
  if (/state/i.test(message)) return new OidcFlowError('state_mismatch', 'the answer from the identity provider does not belong to this sign-in (state mismatch)');
  return new OidcFlowError('invalid_response', `the identity provider's answer could not be verified (${message})`);
}
