// Who is logged in. The session itself is the broker's httpOnly cookie; the console only knows the
// user GET /api/me returns, and drops it the moment the broker answers 401. A user whose password
// someone else chose (user.passwordChangeRequired) is shown only the change-password form.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, get, onUnauthenticated, post } from '../api/client';
import type { Role, User } from '../api/types';

interface SessionState {
  status: 'loading' | 'anonymous' | 'user';
  user: User | null;
  /** set when a session ended underneath the console (expired cookie, disabled user) */
  notice: string | null;
  login(username: string, password: string): Promise<void>;
  logout(): Promise<void>;
  /** changes the caller's password; the broker ends their other sessions and renews this one */
  changePassword(currentPassword: string, newPassword: string): Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<SessionState['status']>('loading');
  const [user, setUser] = useState<User | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    get<User>('/api/me')
      .then((u) => (setUser(u), setStatus('user')))
      .catch(() => setStatus('anonymous'));
    return onUnauthenticated(() => {
      setUser((was) => {
        if (was) setNotice('Your session has ended. Please log in again.');
        return null;
      });
      setStatus('anonymous');
    });
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const r = await post<{ user: User }>('/api/auth/login', { username, password });
    setNotice(null);
    setUser(r.user);
    setStatus('user');
  }, []);

  const logout = useCallback(async () => {
    await post('/api/auth/logout').catch((e: unknown) => {
      if (!(e instanceof ApiError)) throw e;
    });
    setUser(null);
    setStatus('anonymous');
  }, []);

  const changePassword = useCallback(async (currentPassword: string, newPassword: string) => {
    const r = await post<{ user: User }>('/api/me/password', { currentPassword, newPassword });
    setUser(r.user);
  }, []);

  const value = useMemo(() => ({ status, user, notice, login, logout, changePassword }), [status, user, notice, login, logout, changePassword]);
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
