import { lazy, Suspense, useEffect, useState, type ReactNode } from 'react';
import type { Role } from './api/types';
import { Loading, NotAllowed, Page } from './components/ui';
import { DirectoryProvider } from './lib/directory';
import { Link, matchPath, navigate, useLocation } from './lib/router';
import { hasRole, SessionProvider, useSession } from './lib/session';
import { AccessPage } from './pages/access';
import { AdminDevicePage, AdminDevicesPage, NewDevicePage } from './pages/admin-devices';
import { UsersPage } from './pages/admin-users';
import { VendorsPage } from './pages/admin-vendors';
import { InvitationsPage } from './pages/admin-invitations';
import { INVITE_PATH, InvitePage } from './pages/invite';
import { ApprovalsPage } from './pages/approvals';
import { EmergencyBanner } from './components/break-glass';
import { EmergencyPage } from './pages/emergency';
import { AuditPage } from './pages/audit';
import { CertificatePage } from './pages/certificate';
import { ChangePasswordPage, FirstPasswordPage } from './pages/change-password';
import { LivePage } from './pages/live';
import { LoginPage } from './pages/login';
import { MyAccessPage } from './pages/my-access';
import { RequestDetailPage } from './pages/request-detail';
import { RequestFormPage } from './pages/request-form';
import { SessionsPage } from './pages/sessions';
import { TechDevicesPage } from './pages/tech-devices';
import { SearchPage } from './pages/search';
import { MfaEnrolmentGate, SecurityPage, SECURITY_PATH } from './pages/security';
import { ReportsPage } from './pages/reports';
import { CredentialsReportPage } from './pages/credentials-report';
import { HostKeysPage } from './pages/host-keys';

// the terminal, watch and replay pages carry xterm.js and asciinema-player: loaded when first opened
const TerminalPage = lazy(() => import('./pages/terminal').then((m) => ({ default: m.TerminalPage })));
const WatchPage = lazy(() => import('./pages/watch').then((m) => ({ default: m.WatchPage })));
const SessionPage = lazy(() => import('./pages/session').then((m) => ({ default: m.SessionPage })));

interface RouteDef {
  path: string;
  roles: Role[];
  render(p: Record<string, string>): ReactNode;
}

const ROUTES: RouteDef[] = [
  { path: '/devices', roles: ['technician'], render: () => <TechDevicesPage /> },
  { path: '/devices/:id/request', roles: ['technician'], render: (p) => <RequestFormPage deviceId={p.id!} /> },
  { path: '/access', roles: ['technician'], render: () => <MyAccessPage /> },
  { path: '/grants/:id/terminal', roles: ['technician'], render: (p) => <TerminalPage grantId={p.id!} /> },
  { path: '/grants/:id/certificate', roles: ['technician'], render: (p) => <CertificatePage grantId={p.id!} /> },
  { path: '/approvals', roles: ['approver'], render: () => <ApprovalsPage /> },
  { path: '/approvals/:id', roles: ['approver', 'admin', 'auditor'], render: (p) => <RequestDetailPage requestId={p.id!} /> },
  { path: '/grants', roles: ['approver', 'admin'], render: () => <AccessPage /> },
  { path: '/emergency', roles: ['approver', 'admin', 'auditor'], render: () => <EmergencyPage /> },
  { path: '/live', roles: ['approver', 'admin', 'auditor'], render: () => <LivePage /> },
  { path: '/sessions', roles: ['auditor', 'admin'], render: () => <SessionsPage /> },
  { path: '/sessions/:id', roles: ['auditor', 'admin'], render: (p) => <SessionPage sessionId={p.id!} /> },
  { path: '/sessions/:id/watch', roles: ['approver', 'admin', 'auditor'], render: (p) => <WatchPage sessionId={p.id!} /> },
  { path: '/audit', roles: ['auditor', 'admin'], render: () => <AuditPage /> },
  { path: '/search', roles: ['auditor', 'admin'], render: () => <SearchPage /> },
  { path: '/reports', roles: ['auditor', 'admin'], render: () => <ReportsPage /> },
  { path: '/reports/credentials', roles: ['auditor', 'admin'], render: () => <CredentialsReportPage /> },
  { path: '/host-keys', roles: ['approver', 'admin', 'auditor'], render: () => <HostKeysPage /> },
  { path: '/admin/devices', roles: ['admin'], render: () => <AdminDevicesPage /> },
  { path: '/admin/devices/new', roles: ['admin'], render: () => <NewDevicePage /> },
  { path: '/admin/devices/:id', roles: ['admin'], render: (p) => <AdminDevicePage deviceId={p.id!} /> },
  { path: '/admin/vendors', roles: ['admin'], render: () => <VendorsPage /> },
  { path: '/admin/users', roles: ['admin'], render: () => <UsersPage /> },
  { path: '/admin/invitations', roles: ['admin'], render: () => <InvitationsPage /> },
  { path: '/account/password', roles: ['technician', 'approver', 'auditor', 'admin'], render: () => <ChangePasswordPage /> },
  { path: SECURITY_PATH, roles: ['technician', 'approver', 'auditor', 'admin'], render: () => <SecurityPage /> },
];

interface NavItem {
  to: string;
  label: string;
  roles: Role[];
  /** pages under another item's path that belong to this one (the watch page is a live-sessions page) */
  also?: string[];
}

const NAV: NavItem[] = [
  { to: '/devices', label: 'Devices', roles: ['technician'] },
  { to: '/access', label: 'My access', roles: ['technician'] },
  { to: '/approvals', label: 'Approvals', roles: ['approver'] },
  { to: '/grants', label: 'Access', roles: ['approver', 'admin'] },
  { to: '/emergency', label: 'Emergency', roles: ['approver', 'admin', 'auditor'] },
  { to: '/live', label: 'Live sessions', roles: ['approver', 'admin', 'auditor'], also: ['/sessions/:id/watch'] },
  { to: '/sessions', label: 'Recordings', roles: ['auditor', 'admin'] },
  { to: '/audit', label: 'Audit log', roles: ['auditor', 'admin'] },
  { to: '/search', label: 'Search', roles: ['auditor', 'admin'] },
  { to: '/reports', label: 'Reports', roles: ['auditor', 'admin'] },
  { to: '/host-keys', label: 'Host keys', roles: ['approver'] },
  { to: '/admin/devices', label: 'Manage devices', roles: ['admin'] },
  { to: '/admin/vendors', label: 'Vendors', roles: ['admin'] },
  { to: '/admin/users', label: 'Users', roles: ['admin'] },
  { to: '/admin/invitations', label: 'Invitations', roles: ['admin'] },
];

/** The one navigation item a page belongs to: one that claims it, else the longest path it lies under. */
function activeNav(items: NavItem[], pathname: string): string | undefined {
  const claimed = items.find((n) => n.also?.some((p) => matchPath(p, pathname)));
  if (claimed) return claimed.to;
  return items.filter((n) => pathname === n.to || pathname.startsWith(n.to + '/')).sort((a, b) => b.to.length - a.to.length)[0]?.to;
}

/** Where each role starts; a user with several roles starts at the first that applies. */
const HOME: { role: Role; to: string }[] = [
  { role: 'approver', to: '/approvals' },
  { role: 'technician', to: '/devices' },
  { role: 'admin', to: '/admin/devices' },
  { role: 'auditor', to: '/sessions' },
];

export function App() {
  return (
    <SessionProvider>
      <Shell />
    </SessionProvider>
  );
}

function Shell() {
  const { status, user } = useSession();
  const { pathname } = useLocation();

  useEffect(() => {
    if (status === 'anonymous' && pathname !== '/login' && !matchPath(INVITE_PATH, pathname)) {
      navigate(`/login?next=${encodeURIComponent(pathname + location.search)}`, { replace: true });
    }
  }, [status, pathname]);

  // an invitation link is for someone without an account yet: it opens whoever is signed in
  const invite = matchPath(INVITE_PATH, pathname);
  if (invite) return <InvitePage token={invite.token!} />;
  if (status === 'loading') return <div className="boot muted">Portcullis…</div>;
  if (status === 'anonymous' || !user) return <LoginPage />;
  // a password someone else chose: the broker allows nothing else until it is changed
  if (user.passwordChangeRequired) return <FirstPasswordPage />;
  // a role that requires a second factor, and none yet: the broker allows only enrolling one
  if (user.mfaEnrolmentRequired) return <Layout><MfaEnrolmentGate /></Layout>;
  return (
    <DirectoryProvider>
      <Layout>
        <Routed />
      </Layout>
    </DirectoryProvider>
  );
}

function Routed() {
  const { user } = useSession();
  const { pathname } = useLocation();
  const home = HOME.find((h) => hasRole(user, h.role))?.to ?? '/';
  useEffect(() => {
    if (pathname === '/' || pathname === '/login') navigate(home, { replace: true });
  }, [pathname, home]);
  if (pathname === '/' || pathname === '/login') return null;
  for (const r of ROUTES) {
    const params = matchPath(r.path, pathname);
    if (!params) continue;
    if (!hasRole(user, ...r.roles)) return <NotAllowed need={r.roles.join(' or ')} />;
    return <Suspense fallback={<Loading />}>{r.render(params)}</Suspense>;
  }
  return (
    <Page title="Page not found">
      <p>
        There is no page at <code>{pathname}</code>. <Link to={home}>Go to your start page</Link>.
      </p>
    </Page>
  );
}

function Layout({ children }: { children: ReactNode }) {
  const { user, logout } = useSession();
  const { pathname } = useLocation();
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [pathname]);
  // while a second factor must be set up, the console has nothing else to offer
  const enrolling = !!user!.mfaEnrolmentRequired;
  const items = enrolling ? [] : NAV.filter((n) => hasRole(user, ...n.roles));
  const active = activeNav(items, pathname);
  return (
    <div className="layout">
      <header className="topbar">
        <Link to="/" className="brand" aria-label="Portcullis home">
          <span className="brand-mark" aria-hidden="true">▦</span> Portcullis
        </Link>
        <button type="button" className="menu-toggle btn btn-ghost" aria-expanded={open} aria-controls="main-nav" onClick={() => setOpen(!open)}>
          Menu
        </button>
        <nav id="main-nav" className={`nav ${open ? 'open' : ''}`} aria-label="Main">
          {items.map((n) => (
            <Link key={n.to} to={n.to} className={n.to === active ? 'active' : ''} aria-current={n.to === active ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        <div className={`who ${open ? 'open' : ''}`}>
          <span className="who-name" data-testid="who">
            {user!.displayName}
            <small>{user!.roles.join(' · ')}</small>
          </span>
          {!enrolling && <Link to={SECURITY_PATH} className="btn btn-ghost">Security</Link>}
          {!enrolling && <Link to="/account/password" className="btn btn-ghost">Change password</Link>}
          <button type="button" className="btn btn-ghost" onClick={() => void logout().then(() => navigate('/login'))}>
            Log out
          </button>
        </div>
      </header>
      <main className="main">
        {!enrolling && hasRole(user, 'approver') && <EmergencyBanner />}
        {children}
      </main>
    </div>
  );
}
