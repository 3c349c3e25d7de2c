/**
 * Single sign-on and vendor invitations in a real headless Chromium against a real broker and a real
 * OpenID Provider (oidc-provider) in this process: the login page offers "Sign in with <provider>", a
 * click goes through the provider and back signed in with the mapped role; an admin creates an
 * invitation in the console and the technician opens the link, sets a password and is in.
 */
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebConsole, launchBrowser, newPerson, reportErrors, screenshot } from '../support/browser.js';
import { freePort } from '../support/device-sshd.js';
import { startTestIdp, type TestIdp } from '../support/oidc-provider.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let idp: TestIdp;
let broker: TestBroker;
let browser: Browser;
let base: string;

beforeAll(async () => {
  await buildWebConsole();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  idp = await startTestIdp({ redirectUri: `${base}/api/auth/oidc/callback` });
  [broker, browser] = await Promise.all([
    startTestBroker({
      PORT: String(port), PUBLIC_URL: base, OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: idp.clientSecret,
      OIDC_ROLE_MAP: 'pc-approvers=approver', OIDC_DEPARTMENT_CLAIM: 'department', OIDC_DISPLAY_NAME: 'St. Test Hospital',
    }),
    launchBrowser(),
  ]);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await broker?.stop();
  await idp?.close();
});

describe('single sign-on and invitations in the console', () => {
  it('signs a member of staff in with one click on "Sign in with St. Test Hospital"', async () => {
    const id = randomBytes(4).toString('hex');
    idp.signInAs({ sub: `staff-${id}`, preferred_username: `nurse.${id}`, name: `Nurse ${id}`, groups: ['pc-approvers'], department: 'ICU' });
    const person = await newPerson(browser, base);
    await person.page.goto('/login');
    await person.page.getByRole('link', { name: 'Sign in with St. Test Hospital' }).click();
    // through the provider and back: the console of an approver
    await person.page.getByTestId('who').waitFor({ state: 'attached' });
    expect(await person.page.getByTestId('who').textContent()).toContain(`Nurse ${id}`);
    expect(new URL(person.page.url()).pathname).toBe('/approvals');
    await screenshot(person.page, 'sso-signed-in');
    expect(reportErrors([person])).toEqual([]);
  });

  it('an admin invites a technician in the console; the technician sets a password through the link and is in', async () => {
    const adminPassword = `admin-${randomBytes(6).toString('hex')}`;
    const adminName = `admin.${randomBytes(4).toString('hex')}`;
    await broker.deps.store.transaction(async (tx) => tx.users.insert({
      username: adminName, displayName: 'Invitations Admin', roles: ['admin'], vendorId: null, department: null, slackUserId: null,
      passwordHash: await broker.deps.passwords.hash(adminPassword),
    }));
    const vendor = await broker.deps.store.transaction((tx) =>
      tx.vendors.insert({ name: `Infusion Co ${randomBytes(3).toString('hex')}`, contractRef: 'C-1', contractEnd: '2099-12-31' }));

    const admin = await newPerson(browser, base);
    await admin.page.goto('/login');
    await admin.page.getByLabel('Username').fill(adminName);
    await admin.page.getByLabel('Password').fill(adminPassword);
    await admin.page.getByRole('button', { name: 'Log in' }).click();
    await admin.page.getByTestId('who').waitFor({ state: 'attached' });
    await admin.page.getByRole('link', { name: 'Invitations' }).first().click();
    const techName = `tech.${randomBytes(4).toString('hex')}`;
    await admin.page.getByLabel('Username').fill(techName);
    await admin.page.getByLabel('Full name').fill('Ina Vitee');
    await admin.page.getByLabel('Vendor').selectOption({ label: `${vendor.name} (contract ends 2099-12-31)` });
    await admin.page.getByRole('button', { name: 'Create invitation link' }).click();
    const url = (await admin.page.getByTestId('invitation-link').textContent())!.trim();
    expect(url).toMatch(new RegExp(`^${base}/invite/[A-Za-z0-9_-]{43}$`));
    await admin.page.getByTestId('invitations').getByText(techName).waitFor();
    await screenshot(admin.page, 'invitations-admin');

    const tech = await newPerson(browser, base);
    await tech.page.goto(url);
    await tech.page.getByText('Ina Vitee').waitFor();
    await tech.page.getByLabel('Choose a password').fill('a long technician passphrase');
    await tech.page.getByLabel('Repeat the password').fill('a long technician passphrase');
    await screenshot(tech.page, 'invitation-accept');
    await tech.page.getByRole('button', { name: 'Set password and continue' }).click();
    await tech.page.getByTestId('who').waitFor({ state: 'attached' });
    expect(await tech.page.getByTestId('who').textContent()).toContain('Ina Vitee');

    // the link is spent
    const again = await newPerson(browser, base);
    await again.page.goto(url);
    await again.page.getByText('this invitation has already been used').waitFor();
    expect(reportErrors([admin, tech])).toEqual([]);
    // the link's token never reaches the broker's log (the page, the API read of it, the accept)
    expect(broker.logLines.join('\n')).not.toContain(url.split('/invite/')[1]!);
  });
});
