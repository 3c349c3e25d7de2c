/**
 * A real OpenID Provider in the test process (oidc-provider 9, the certified implementation) on
 * 127.0.0.1, with one confidential client for the broker. Its login screen signs in whichever account
 * the test chose (`signInAs`), with that account's `amr`, and consent is implied; everything else — the
 * authorization endpoint, PKCE, codes, ID tokens, discovery, JWKS, userinfo — is the provider's own.
 * Plus `signInOverHttp`, a tiny browser (redirects and cookies) to drive the code flow without Chromium.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export interface TestAccount {
  sub: string;
  preferred_username?: string;
  name?: string;
  email?: string;
  groups?: string[];
  department?: string;
  /** authentication methods the provider reports in the ID token (e.g. ['pwd', 'otp']) */
  amr?: string[];
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** the account the next login screen signs in; change its claims freely between sign-ins */
  signInAs(account: TestAccount): void;
  close(): Promise<void>;
}

export async function startTestIdp(opts: { redirectUri: string }): Promise<TestIdp> {
  // set once the provider exists (it needs the server's port as its issuer); until then the server answers 503
  const ref: { provider?: Provider } = {};
  const accounts = new Map<string, TestAccount>();
  let next: TestAccount | undefined;
  const server = http.createServer((req, res) => {
    const provider = ref.provider;
    if (!provider) return void res.writeHead(503).end();
    if (req.url?.startsWith('/interaction/')) {
      finishInteraction(provider, req, res).catch((err: Error) => res.writeHead(500).end(err.message));
      return;
    }
    provider.callback()(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'portcullis-test';
  const clientSecret = `secret-${Math.random().toString(36).slice(2)}-${Date.now()}`;

  async function finishInteraction(p: Provider, req: http.IncomingMessage, res: http.ServerResponse) {
    const details = await p.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      if (!next) throw new Error('the test did not say who signs in (signInAs)');
      accounts.set(next.sub, next);
      await p.interactionFinished(req, res, { login: { accountId: next.sub, amr: next.amr ?? ['pwd'] } }, { mergeWithLastSubmission: false });
      return;
    }
    // consent: everything the client asked for
    const grant = new p.Grant({ accountId: details.session!.accountId!, clientId });
    grant.addOIDCScope(String(details.params.scope ?? 'openid'));
    grant.addOIDCClaims(['preferred_username', 'name', 'email', 'groups', 'department']);
    await p.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [opts.redirectUri],
      response_types: ['code'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic' }],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'test-idp', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [`cookie-key-${Math.random()}`] },
    // the provider sends amr only as part of a scope's claims
    claims: { openid: ['sub', 'amr'], profile: ['preferred_username', 'name', 'groups', 'department'], email: ['email'] },
    // every claim a scope grants goes into the ID token (as many hospital IdPs are set up to do)
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx: unknown, sub: string) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          const a = accounts.get(sub)!;
          const { amr: _amr, ...claims } = a;
          return claims;
        },
      };
    },
  });
  ref.provider = provider;
  return {
    issuer, clientId, clientSecret,
    signInAs(account) {
      next = account;
      accounts.set(account.sub, account);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Cookies per origin: enough for the broker and the provider on loopback. */
export class CookieJar {
  private readonly jars = new Map<string, Map<string, string>>();
  header(url: URL): string {
    return [...(this.jars.get(url.origin) ?? new Map<string, string>()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  store(url: URL, setCookies: string[]) {
    const jar = this.jars.get(url.origin) ?? new Map<string, string>();
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]!) < new Date()) || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (gone || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    this.jars.set(url.origin, jar);
  }
  get(origin: string, name: string): string | undefined {
    return this.jars.get(origin)?.get(name);
  }
  set(origin: string, name: string, value: string) {
    const jar = this.jars.get(origin) ?? new Map<string, string>();
    jar.set(name, value);
    this.jars.set(origin, jar);
  }
}

export interface HttpHop {
  url: URL;
  status: number;
  location: URL | null;
  body: string;
}

/**
 * GETs `start` and follows redirects (keeping cookies) until an answer that is not a redirect, or a
 * redirect `stop` says to stop at. `rewrite` may change a URL before it is requested (to tamper).
 */
export async function followRedirects(start: string | URL, jar: CookieJar,
  opts: { stop?: (location: URL) => boolean; rewrite?: (url: URL) => URL; maxHops?: number } = {}): Promise<HttpHop[]> {
  const hops: HttpHop[] = [];
  let url = new URL(start);
  for (let i = 0; i < (opts.maxHops ?? 15); i++) {
    if (opts.rewrite) url = opts.rewrite(url);
    const cookie = jar.header(url);
    const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    jar.store(url, res.headers.getSetCookie());
    const location = res.headers.get('location') ? new URL(res.headers.get('location')!, url) : null;
    hops.push({ url, status: res.status, location, body: await res.text() });
    if (!location || res.status < 300 || res.status >= 400 || opts.stop?.(location)) return hops;
    url = location;
  }
  throw new Error(`more than ${opts.maxHops ?? 15} redirects from ${String(start)}`);
}
