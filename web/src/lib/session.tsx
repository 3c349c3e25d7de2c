// Who is logged in. The session itself is the broker's httpOnly cookie; the console only knows the
// user GET /api/me returns (asked only when the broker's readable portcullis_signed_in marker is
// there), and drops it the moment the broker answers 401. A user whose password
// someone else chose (user.passwordChangeRequired) is shown only the change-password form. A user with
// a second factor signs in in two steps: the password answers with an MFA challenge, the proof with the
// session.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, get, onUnauthenticated, post } from '../api/client';
import type { MfaChallenge, MfaProof, Role, User } from '../api/types';

interface SessionState {
  status: 'loading' | 'anonymous' | 'user';
  user: User | null;
  /** set when a session ended underneath the console (expired cookie, disabled user) */
  notice: string | null;
  /** null: signed in; otherwise the second step the broker asks for (finish it with completeMfa) */
  login(username: string, password: string): Promise<MfaChallenge | null>;
  completeMfa(mfaToken: string, proof: MfaProof): Promise<void>;
  /** asks the broker again who the user is (after enrolling a second factor) */
  refreshUser(): Promise<void>;
  logout(): Promise<void>;
  /** changes the caller's password; the broker ends their other sessions and renews this one */
  changePassword(currentPassword: string, newPassword: string): Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

/** the broker's readable marker beside its httpOnly session cookie (set at login, cleared at logout) */
const SIGNED_IN_COOKIE = 'portcullis_signed_in';
const signedIn = () => document.cookie.split(';').some((c) => c.trim().startsWith(`${SIGNED_IN_COOKIE}=`));
/** the session ended underneath us: the next page load goes straight to the login form */
const forgetSignedIn = () => {
  document.cookie = `${SIGNED_IN_COOKIE}=; path=/; max-age=0; samesite=strict${location.protocol === 'https:' ? '; secure' : ''}`;
};

export function SessionProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<SessionState['status']>('loading');
  const [user, setUser] = useState<User | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    // no marker, no session: asking /api/me would only earn a 401 in the browser's console
    if (signedIn()) {
      get<User>('/api/me')
        .then((u) => (setUser(u), setStatus('user')))
        .catch(() => setStatus('anonymous'));
    } else setStatus('anonymous');
    return onUnauthenticated(() => {
      forgetSignedIn();
      setUser((was) => {
        if (was) setNotice('Your session has ended. Please log in again.');
        return null;
      });
      setStatus('anonymous');
    });
  }, []);

  const signIn = useCallback((u: User) => {
    setNotice(null);
    setUser(u);
    setStatus('user');
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const r = await post<{ user: User } | MfaChallenge>('/api/auth/login', { username, password });
    if ('mfaRequired' in r && r.mfaRequired) return r;
    signIn((r as { user: User }).user);
    return null;
  }, [signIn]);

  const completeMfa = useCallback(async (mfaToken: string, proof: MfaProof) => {
    const r = await post<{ user: User }>('/api/auth/login/mfa', { mfaToken, ...proof });
    signIn(r.user);
  }, [signIn]);

  const refreshUser = useCallback(async () => {
    setUser(await get<User>('/api/me'));
  }, []);

  const logout = useCallback(async () => {
    await post('/api/auth/logout').catch((e: unknown) => {
      if (!(e instanceof ApiError)) throw e;
    });
    forgetSignedIn();
    setUser(null);
    setStatus('anonymous');
  }, []);

  const changePassword = useCallback(async (currentPassword: string, newPassword: string) => {
    const r = await post<{ user: User }>('/api/me/password', { currentPassword, newPassword });
    setUser(r.user);
  }, []);

  const value = useMemo(() => ({ status, user, notice, login, completeMfa, refreshUser, logout, changePassword }),
    [status, user, notice, login, completeMfa, refreshUser, logout, changePassword]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

/** The logged-in user (pages under the authenticated layout only). */
export function useUser(): User {
  const { user } = useSession();
  if (!user) throw new Error('no user');
  return user;
}

export const hasRole = (user: User | null, ...roles: Role[]) => !!user && roles.some((r) => user.roles.includes(r));
