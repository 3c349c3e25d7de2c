// Names for the ids the API returns: devices (every role may list the ones it can see), vendors
// (approvers, auditors, admins; a technician reads their own) and users (admins only; for the
// other roles the names come from request contexts the broker embeds, when it does).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { get } from '../api/client';
import type { Device, Items, User, Vendor } from '../api/types';
import { shortId } from './format';
import { hasRole, useSession } from './session';

interface Person {
  id: string;
  displayName: string;
  username?: string;
  vendorId?: string | null;
}

interface Directory {
  devices: Device[];
  vendors: Vendor[];
  users: User[];
  device(id: string): Device | undefined;
  deviceName(id: string): string;
  vendorName(id: string | null | undefined): string;
  person(id: string | null | undefined): Person | undefined;
  userName(id: string | null | undefined): string;
  /** remember names the broker embedded in some answer */
  learn(people: (Person | null | undefined)[]): void;
  reload(): void;
}

const DirectoryContext = createContext<Directory | null>(null);

export function DirectoryProvider({ children }: { children: ReactNode }) {
  const { user } = useSession();
  const [devices, setDevices] = useState<Device[]>([]);
  const [vendors, setVendors] = useState<Vendor[]>([]);
  const [users, setUsers] = useState<User[]>([]);
  const [learned, setLearned] = useState<Map<string, Person>>(() => new Map());
  const [tick, setTick] = useState(0);

  useEffect(() => {
    if (!user) return;
    let live = true;
    get<Items<Device>>('/api/devices').then((r) => live && setDevices(r.items)).catch(() => undefined);
    if (hasRole(user, 'admin', 'auditor', 'approver')) {
      get<Items<Vendor>>('/api/vendors').then((r) => live && setVendors(r.items)).catch(() => undefined);
    } else if (user.vendorId) {
      get<Vendor>(`/api/vendors/${user.vendorId}`).then((v) => live && setVendors([v])).catch(() => undefined);
    }
    if (hasRole(user, 'admin')) get<Items<User>>('/api/users').then((r) => live && setUsers(r.items)).catch(() => undefined);
    else setUsers([user]);
    return () => {
      live = false;
    };
  }, [user, tick]);

  const learn = useCallback((people: (Person | null | undefined)[]) => {
    setLearned((old) => {
      const fresh = people.filter((p): p is Person => !!p && !!p.id && !!p.displayName && old.get(p.id)?.displayName !== p.displayName);
      if (!fresh.length) return old;
      const next = new Map(old);
      for (const p of fresh) next.set(p.id, { ...old.get(p.id), ...p });
      return next;
    });
  }, []);

  const value = useMemo<Directory>(() => {
    const byDevice = new Map(devices.map((d) => [d.id, d]));
    const byVendor = new Map(vendors.map((v) => [v.id, v]));
    const byUser = new Map<string, Person>(learned);
    for (const u of users) byUser.set(u.id, u);
    return {
      devices, vendors, users,
      device: (id) => byDevice.get(id),
      deviceName: (id) => byDevice.get(id)?.name ?? `device ${shortId(id)}`,
      vendorName: (id) => (id ? (byVendor.get(id)?.name ?? `vendor ${shortId(id)}`) : '—'),
      person: (id) => (id ? byUser.get(id) : undefined),
      userName: (id) => (id ? (byUser.get(id)?.displayName ?? `user ${shortId(id)}`) : '—'),
      learn,
      reload: () => setTick((n) => n + 1),
    };
  }, [devices, vendors, users, learned, learn]);
  return <DirectoryContext.Provider value={value}>{children}</DirectoryContext.Provider>;
}

export function useDirectory(): Directory {
  const d = useContext(DirectoryContext);
  if (!d) throw new Error('useDirectory outside DirectoryProvider');
  return d;
}
