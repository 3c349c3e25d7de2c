/**
 * A real headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH) driven by playwright-core,
 * for the browser tests: a fresh profile per launch, one context per person, screenshots under
 * test-artifacts/screenshots/. Also builds the web console first when its sources changed.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startDeviceSshd, type DeviceSshd } from './device-sshd.js';
import { addUser, startTestBroker, type TestBroker } from './test-broker.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SCREENSHOT_DIR = path.join(root, 'test-artifacts', 'screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Builds web/dist unless it is newer than web/src (the same script `npm start` runs). */
export async function buildWebConsole(): Promise<void> {
  await promisify(execFile)(process.execPath, [path.join(root, 'web', 'build-if-stale.mjs')], { cwd: root, timeout: 300_000 });
}

export interface WebConsoleEnv {
  broker: TestBroker;
  sshd: DeviceSshd;
  browser: Browser;
  /** the broker's HTTP address */
  base: string;
}

/**
 * Registers a describe block's hooks: the web console built, one broker, a device sshd and Chromium for
 * its tests, all stopped after them. Read the fields inside tests (they are set before the first).
 * `brokerEnv` goes to the broker's configuration (MFA_REQUIRED_ROLES …). `localhost`: the broker is
 * reached as http://localhost:<port> (its PUBLIC_URL, on a port chosen first), since WebAuthn refuses
 * IP addresses as the relying party.
 */
export function useWebConsole(opts: { brokerEnv?: Record<string, string>; localhost?: boolean } = {}): WebConsoleEnv {
  const env = {} as WebConsoleEnv;
  beforeAll(async () => {
    await buildWebConsole();
    const port = opts.localhost ? await freeLoopbackPort() : null;
    const brokerEnv = port ? { PORT: String(port), PUBLIC_URL: `http://localhost:${port}`, ...opts.brokerEnv } : opts.brokerEnv;
    [env.broker, env.sshd, env.browser] = await Promise.all([startTestBroker(brokerEnv), startDeviceSshd(), launchBrowser()]);
    env.base = port ? `http://localhost:${port}` : env.broker.httpUrl!;
  }, 300_000);
  afterAll(async () => {
    await env.browser?.close();
    await env.broker?.stop();
    await env.sshd?.stop();
  });
  return env;
}

/** A TCP port free on 127.0.0.1 just now (for a server whose address must be known before it starts). */
async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function launchBrowser(): Promise<Browser> {
  // playwright gives every launch its own throw-away --user-data-dir
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export const DESKTOP = { viewport: { width: 1366, height: 900 } };
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** A new person at the console: their own cookie jar; console errors are collected for the test to check. */
export async function newPerson(browser: Browser, baseURL: string, opts: BrowserContextOptions = DESKTOP): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ baseURL, ...opts });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return { context, page, errors };
}

export async function login(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  // the user's name is in the top bar (folded into the menu on a phone)
  await page.getByTestId('who').waitFor({ state: 'attached' });
}

/**
 * First login with a password someone else chose: the console asks for a new one before anything
 * else, and shows the console once it is set.
 */
export async function firstLogin(page: Page, username: string, initialPassword: string, newPassword: string, shot?: string): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(initialPassword);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('first-password').waitFor();
  await page.getByLabel('Current password').fill(initialPassword);
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Repeat the new password').fill(newPassword);
  if (shot) await screenshot(page, shot);
  await page.getByRole('button', { name: 'Set my password' }).click();
  await page.getByTestId('who').waitFor({ state: 'attached' });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await fs.mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  // full-page shots stitch the page from the top: start there so the sticky bar sits where it belongs
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The visible text of the xterm.js terminal(s) on the page (xterm renders spaces as no-break spaces). */
export async function terminalText(page: Page): Promise<string> {
  const rows = await page.locator('.xterm-rows').allInnerTexts();
  return rows.join('\n').replace(/\u00a0/g, ' ');
}

/** Browser errors worth failing a test for: not the 401 of the first /api/me, nor the replay page's WebAssembly probe. */
export function reportErrors(people: { errors: string[] }[], opts: { allowStatus?: number[] } = {}): string[] {
  const allowed = [401, ...(opts.allowStatus ?? [])];
  return people.flatMap((p) => p.errors).filter((e) =>
    !allowed.some((s) => e.includes(`status of ${s}`)) && !/WebAssembly/.test(e));
}

export const PASSWORD = 'browser-test-password-1';
/** what the admin sets; each person replaces it with PASSWORD at their first login */
export const INITIAL_PASSWORD = 'browser-test-initial-password';
let counter = 0;

export interface StoryUser {
  id: string;
  username: string;
  token: string;
}

export interface Story {
  vendor: { id: string; name: string };
  device: { id: string; name: string };
  department: string;
  admin: StoryUser;
  tech: StoryUser;
  approver: StoryUser;
  auditor: StoryUser;
}

/**
 * Everything one browser test needs, with unique names: a vendor, a deployed device on the test
 * sshd (its own approver department, max session 45 min), and people who log in with a password,
 * created through the admin API as a real administrator would.
 */
export async function createStory(broker: TestBroker, sshd: DeviceSshd): Promise<Story> {
  const api = broker.api;
  const suffix = `${Date.now().toString(36)}${process.pid.toString(36)}${counter++}`;
  const bootstrap = await addUser(broker, ['admin']);
  const department = `dept-${suffix}`;
  const vendor = await api.ok('POST', '/api/vendors', bootstrap.token, { name: `Vendor ${suffix}`, contractRef: `C-${suffix}`, contractEnd: '2099-12-31' });
  const device = await api.ok('POST', '/api/devices', bootstrap.token, {
    name: `vent-${suffix}`, manufacturer: 'Dräger', model: 'Evita V800', firmwareBaseline: '2.51', department,
    clinicalPurpose: 'ICU ventilation', criticality: 'high', address: '127.0.0.1', sshPort: sshd.port, hostKey: sshd.hostKey,
    vendorIds: [vendor.id], credential: sshd.credential, policy: { maxSessionMinutes: 45 },
  });
  await api.ok('POST', `/api/devices/${device.id}/lifecycle`, bootstrap.token, { state: 'deployed', reason: 'browser test' });
  const person = async (role: 'admin' | 'technician' | 'approver' | 'auditor', extra: Record<string, string> = {}): Promise<StoryUser> => {
    const username = `${role.slice(0, 4)}-${suffix}`;
    const user = await api.ok('POST', '/api/users', bootstrap.token, {
      username, displayName: `${role[0]!.toUpperCase()}${role.slice(1)} ${suffix}`, roles: [role], password: INITIAL_PASSWORD, ...extra,
    });
    return { id: user.id, username, token: await api.firstLogin(username, INITIAL_PASSWORD, PASSWORD) };
  };
  return {
    vendor, device, department,
    admin: await person('admin'),
    tech: await person('technician', { vendorId: vendor.id }),
    approver: await person('approver', { department }),
    auditor: await person('auditor'),
  };
}

/** An approved, active grant for the story's technician, made through the API. */
export async function openGrant(broker: TestBroker, s: Story): Promise<{ id: string; requestId: string }> {
  const req = await broker.api.ok('POST', '/api/access-requests', s.tech.token, { deviceId: s.device.id, reason: 'firmware check', ticketRef: 'CHG-1', durationMinutes: 30 });
  const decided = await broker.api.ok('POST', `/api/access-requests/${req.id}/approve`, s.approver.token, { comment: 'ok' });
  return { id: decided.grant.id, requestId: req.id };
}
