/** A small JSON client for the broker's HTTP API, as a person (or a script) would use it with a bearer token. */

export class ApiClient {
  /** `serverErrors`: the server's error log lines, when the server runs in the test's process */
  constructor(readonly baseUrl: string, private readonly serverErrors?: () => string[]) {}

  async call<T = any>(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T };
  }

  /** like call, but throws unless the status is 2xx */
  async ok<T = any>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
    const r = await this.call<T>(method, path, token, body);
    if (r.status >= 300) {
      // a 500 says only "internal error" to the client: the cause is in the server's log
      const cause = r.status >= 500 && this.serverErrors ? `\nserver log (errors, last 3):\n${this.serverErrors().slice(-3).join('\n')}` : '';
      throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}${cause}`);
    }
    return r.body;
  }

  async login(username: string, password: string): Promise<string> {
    return (await this.ok<{ token: string }>('POST', '/api/auth/login', undefined, { username, password })).token;
  }

  /** A user's first login with the password an admin chose: they replace it, as the broker requires; returns their token. */
  async firstLogin(username: string, initialPassword: string, newPassword: string): Promise<string> {
    const first = await this.ok<{ token: string; passwordChangeRequired?: boolean }>('POST', '/api/auth/login', undefined, { username, password: initialPassword });
    if (!first.passwordChangeRequired) return first.token;
    return (await this.ok<{ token: string }>('POST', '/api/me/password', first.token, { currentPassword: initialPassword, newPassword })).token;
  }
}
