import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reevaluateAdvisories, upsertAdvisories } from '@spm/db';
import { ADVISORY, lockfile, PASSWORD, pnpmLockfile, startStack, USERS, type Stack } from '../support/stack.js';
import { axeRuns, checkAccessibility, chromiumAvailable, CHROMIUM, launch, newPerson, photograph } from './browser.js';

/*
 * The web app in a real browser (Debian's Chromium), against the real API, a real worker process and
 * PostgreSQL, with a loopback registry: a requester submits a lockfile and watches it reach Pending
 * Approval; a requester cannot reach the approvals page; an approver reads a package's report, rejects
 * one package with the keyboard and approves the rest as a batch, and sees them Published; an admin
 * changes a licence tier and visits users, the audit log and operations. Every page is checked with
 * axe-core and photographed at laptop and phone width.
 *
 * Needs Chromium (scripts/test.sh installs Debian's when it runs as root in CI) and `pnpm build`.
 */

const inCi = process.env.CI === 'true';
if (!chromiumAvailable && !inCi) {
  console.warn(`Browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH).`);
}

let stack: Stack;
let browser: Browser;
let requestId: number;
const opened: Array<{ context: BrowserContext; problems: string[] }> = [];

async function signIn(role: keyof typeof USERS): Promise<Page> {
  const person = await newPerson(browser, stack.url);
  opened.push(person);
  const { page } = person;
  await page.goto('/');
  await page.waitForURL('**/signin');
  await page.getByLabel('Username').fill(USERS[role]);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/requests');
  return page;
}

/** Calls the API from the page, as the signed-in person (the cookie, and the CSRF header for writes). */
async function apiStatus(page: Page, path: string, method = 'GET', body?: unknown): Promise<number> {
  return page.evaluate(
    async ({ path, method, body }) => {
      const csrf = document.cookie.match(/(?:^|; )spm_csrf=([^;]*)/)?.[1] ?? '';
      const res = await fetch(path, {
        method,
        headers: { 'content-type': 'application/json', 'x-csrf-token': decodeURIComponent(csrf) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return res.status;
    },
    { path, method, body },
  );
}

describe.skipIf(!chromiumAvailable && !inCi)('the web app in Chromium', () => {
  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launch()]);
  });

  afterAll(async () => {
    for (const o of opened) await o.context.close().catch(() => undefined);
    await browser?.close();
    await stack?.close();
    console.log(
      `axe-core: ${axeRuns.length} checks, no serious or critical violation; minor/moderate: ${JSON.stringify([
        ...new Set(axeRuns.flatMap((r) => r.violations)),
      ])}`,
    );
  });

  it('a requester signs in, submits a lockfile and watches it reach Pending Approval without a reload', async () => {
    const person = await newPerson(browser, stack.url);
    opened.push(person);
    const { page, context } = person;
    const detailCalls: string[] = [];
    page.on('request', (r) => {
      if (/\/api\/packages\/requests\/\d+(\/processing-status)?(\?|$)/.test(r.url())) detailCalls.push(r.url());
    });

    await page.goto('/requests');
    await page.waitForURL('**/signin');
    await checkAccessibility(page, 'sign in');
    await photograph(page, 'sign-in');
    await page.getByLabel('Username').fill(USERS.user);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('Wrong username or password').waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back where the person was going.
    await page.waitForURL('**/requests');
    await page.getByRole('heading', { name: 'My requests' }).waitFor();

    // The session is an httpOnly, SameSite=Strict cookie: the page's scripts cannot read the token.
    const session = (await context.cookies()).find((c) => c.name === 'spm_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('spm_session');
    await checkAccessibility(page, 'my requests (empty)');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Submit a lockfile' }).click();
    await page.getByRole('heading', { name: 'Submit a lockfile' }).waitFor();
    await page.getByLabel('Choose a lockfile').setInputFiles({
      name: 'package-lock.json',
      mimeType: 'application/json',
      buffer: Buffer.from(lockfile(stack.registry.url)),
    });
    await page.getByText('Selected: package-lock.json').waitFor();
    await checkAccessibility(page, 'submit');
    await photograph(page, 'submit');
    await page.getByRole('button', { name: 'Submit', exact: true }).click();

    await page.waitForURL(/\/requests\/\d+$/);
    requestId = Number(new URL(page.url()).pathname.split('/').pop());
    await page.getByRole('heading', { name: 'storefront@4.2.0' }).waitFor();
    await page.getByText('Submitted: 5 packages (5 new, 0 already known)').waitFor();
    // No worker yet: everything is queued.
    await page.getByText('Processing: 0 of 5 settled').waitFor();
    await checkAccessibility(page, 'request (queued)');
    await photograph(page, 'request-queued');

    // The worker starts; the page follows without being reloaded.
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    stack.startWorker();
    await page
      .getByText('Checked: 5 waiting for an approver')
      .waitFor({ timeout: 90_000 })
      .catch((err) => {
        throw new Error(`${err}\nworker log:\n${stack.workerLog()}`);
      });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    const table = page.getByRole('region', { name: 'Packages of this request' });
    const badge = (text: string) => table.locator('.badge', { hasText: text });
    await badge('Pending Approval').nth(4).waitFor();
    expect(await badge('Pending Approval').count()).toBe(5);
    await badge('high').waitFor();
    await table.getByText('install-script', { exact: true }).waitFor();

    // Live progress polls a summary and pages of packages, never the whole request.
    expect(detailCalls.length).toBeGreaterThan(0);
    for (const url of detailCalls) expect(url, 'a poll without paging or summary').toMatch(/summary=true|page_size=/);

    // Sorting and filtering happen on the server. The sort headers are buttons, so the keyboard works on
    // them: pressing Enter also spares the click's wait for two identical animation frames, which a CI
    // run starved of CPU once did not get in 30 s.
    await table.getByRole('button', { name: 'Highest severity' }).press('Enter');
    await page.waitForURL(/sort=severity/);
    await table.getByRole('button', { name: 'Highest severity' }).press('Enter');
    await page.waitForURL(/sort=severity&order=desc/);
    await page.getByLabel('Findings').selectOption('high');
    await table.getByRole('link', { name: 'left-align@1.4.0' }).waitFor({ state: 'detached' });
    await table.getByRole('link', { name: 'old-parser@2.0.0' }).waitFor();
    await page.getByLabel('Findings').selectOption('');
    await table.getByRole('link', { name: 'left-align@1.4.0' }).waitFor();
    // The requester may lower their own request's priority (not raise it: that is for approvers).
    const priority = page.getByLabel('Priority');
    expect(await priority.locator('option:not([disabled])').allTextContents()).toEqual(['Normal', 'Low']);
    await priority.selectOption('low');
    await page.getByText(/waiting packages? re-ranked/).waitFor();
    const stored = await stack.tdb.db
      .selectFrom('requests')
      .select('priority')
      .where('id', '=', requestId)
      .executeTakeFirstOrThrow();
    expect(stored.priority).toBe(10);
    await checkAccessibility(page, 'request (pending)');
    await photograph(page, 'request');
    expect(person.problems).toEqual([]);
  });

  it('a requester cannot reach the approvals page, and the API refuses them too', async () => {
    const page = await signIn('user');
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Approvals' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Licences' }).count()).toBe(0);
    await page.goto('/approvals');
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    await page.getByText('This page needs the approver role').waitFor();
    expect(await apiStatus(page, '/api/approvals/pending')).toBe(403);
    const ids = (await stack.tdb.db.selectFrom('packages').select('id').execute()).map((r) => r.id);
    expect(await apiStatus(page, '/api/approvals/batch', 'POST', { package_ids: ids, decision: 'approve' })).toBe(403);
    await page.goto('/admin/licenses');
    await page.getByText('This page needs the admin role').waitFor();
    await checkAccessibility(page, 'not allowed');
    await photograph(page, 'not-allowed');
    const pending = await stack.tdb.db
      .selectFrom('package_status')
      .select('status')
      .where('status', '=', 'Pending Approval')
      .execute();
    expect(pending).toHaveLength(5);
  });

  it('an approver reads a report, rejects one package with the keyboard, approves the rest, and sees them Published', async () => {
    const page = await signIn('approver');
    await page.getByRole('heading', { name: 'Requests', exact: true }).waitFor();
    await page.getByRole('link', { name: 'storefront@4.2.0' }).waitFor();
    await checkAccessibility(page, 'requests');
    await photograph(page, 'requests');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals' }).click();
    await page.getByRole('heading', { name: 'Approvals' }).waitFor();
    const queue = page.getByRole('region', { name: 'Packages waiting for approval' });
    await queue.getByRole('link', { name: 'old-parser@2.0.0' }).waitFor();
    // Sorted by risk: the install-time dropper and the vulnerable parser come before the clean packages.
    const order = await queue.locator('tbody tr td:nth-child(2)').allTextContents();
    expect(order.slice(0, 2).sort()).toEqual(['old-parser@2.0.0', 'setup-helper@3.1.0']);
    await page.getByRole('button', { name: 'Keyboard shortcuts' }).click();
    await checkAccessibility(page, 'approvals');
    await photograph(page, 'approvals');

    // The report of the vulnerable package.
    await queue.getByRole('link', { name: 'old-parser@2.0.0' }).click();
    await page.getByRole('heading', { name: 'old-parser@2.0.0' }).waitFor();
    await page.getByRole('heading', { name: 'Vulnerabilities (1)' }).waitFor();
    const vulns = page.getByRole('region', { name: 'Vulnerabilities', exact: true });
    expect(await vulns.getByRole('link', { name: ADVISORY }).getAttribute('href')).toBe(
      `https://advisories.example.test/${ADVISORY}`,
    );
    await vulns.getByText('< 2.1.0').waitFor();
    await vulns.getByText('CVE-2025-0042', { exact: true }).waitFor();
    await page.getByText('against the lockfile and the source registry').waitFor();
    // How the policy decided: held by the rule for serious vulnerabilities, of the default policy.
    const decision = page.getByRole('region', { name: 'Policy decision' });
    await decision.getByText('serious-vulnerability').first().waitFor();
    await decision.getByText('Rules that matched').waitFor();
    await page.getByRole('region', { name: 'History' }).getByText('Pending Approval').first().waitFor();
    await page.getByRole('region', { name: 'Included in' }).getByRole('link', { name: 'storefront@4.2.0' }).waitFor();
    await checkAccessibility(page, 'package report (vulnerability)');
    await photograph(page, 'package-report');

    // The report of the package whose install script downloads and runs code.
    await page.goto(`/packages/${await packageId('setup-helper')}`);
    await page.getByRole('heading', { name: 'setup-helper@3.1.0' }).waitFor();
    const signals = page.getByRole('region', { name: /Supply-chain findings/ });
    // Where it was seen (file and line) and an excerpt of what.
    await signals
      .getByText(/In setup\.js, line \d+/)
      .first()
      .waitFor();
    await signals.locator('pre', { hasText: 'https' }).first().waitFor();
    await checkAccessibility(page, 'package report (signals)');
    await photograph(page, 'package-report-signals');

    // Keyboard: j to the first package, find old-parser, x to select, r to reject, a reason, Ctrl+Enter.
    await page.goto('/approvals');
    await queue.getByRole('link', { name: 'old-parser@2.0.0' }).waitFor();
    await page.keyboard.press('j');
    const target = queue.getByLabel('Select old-parser@2.0.0');
    for (let i = 0; i < 5 && !(await target.evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press('j');
    }
    expect(await target.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.press('x');
    expect(await target.isChecked()).toBe(true);
    await page.keyboard.press('r');
    const dialog = page.getByRole('dialog', { name: 'Reject 1 package' });
    await dialog.waitFor();
    await checkAccessibility(page, 'reject dialog');
    await page.keyboard.type('Vulnerable to ReDoS (GHSA); upgrade to 2.1.0');
    await page.keyboard.press('Control+Enter');
    await page.getByRole('status').getByText('Rejected 1 package.').waitFor();
    expect(await queue.getByRole('link', { name: 'old-parser@2.0.0' }).count()).toBe(0);

    // The rest as one batch.
    await queue.getByLabel('Select every package on this page').check();
    await page.getByRole('button', { name: 'Approve selected' }).click();
    const approve = page.getByRole('dialog', { name: 'Approve 4 packages' });
    await approve.getByLabel('Reason').fill('Reviewed for the storefront release');
    await approve.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('status').getByText('Approved 4 packages.').waitFor();
    await page.getByText('Nothing waits for a decision.').waitFor();

    await page.goto(`/requests/${requestId}`);
    await page.getByText('Every package has settled').waitFor({ timeout: 60_000 });
    const table = page.getByRole('region', { name: 'Packages of this request' });
    const badge = (text: string) => table.locator('.badge', { hasText: text });
    await badge('Published').nth(3).waitFor();
    expect(await badge('Published').count()).toBe(4);
    expect(await badge('Rejected').count()).toBe(1);
    await table.getByText('Vulnerable to ReDoS (GHSA); upgrade to 2.1.0').waitFor();
    // The bill of materials downloads as the signed-in approver, in both formats.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'CycloneDX 1.6' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('storefront-4.2.0.cdx.json');
    const cdx = JSON.parse(await readFile((await download.path())!, 'utf8')) as { components: unknown[] };
    expect(cdx.components).toHaveLength(5);
    expect(await page.getByRole('link', { name: 'SPDX 2.3' }).getAttribute('href')).toBe(
      `/api/packages/requests/${requestId}/sbom?format=spdx`,
    );
    await checkAccessibility(page, 'request (done)');
    await photograph(page, 'request-done');
    const statuses = await stack.tdb.db.selectFrom('package_status').select('status').execute();
    expect(statuses.map((s) => s.status).sort()).toEqual([
      'Published',
      'Published',
      'Published',
      'Published',
      'Rejected',
    ]);
  });

  it('a requester drops a pnpm-lock.yaml: a package already vetted is ready at once', async () => {
    const page = await signIn('user');
    await page.goto('/submit');
    await page.getByLabel('Application name').fill('storefront-tools');
    await page.getByLabel('Application version').fill('1.0.0');
    // Dropped, not chosen: the same drop a person makes from their file manager.
    const files = await page.evaluateHandle((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], 'pnpm-lock.yaml', { type: 'application/yaml' }));
      return dt;
    }, pnpmLockfile());
    await page.locator('.dropzone').dispatchEvent('drop', { dataTransfer: files });
    await page.getByText('Selected: pnpm-lock.yaml').waitFor();
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByRole('heading', { name: 'storefront-tools@1.0.0' }).waitFor();
    await page.getByText('Submitted: 1 package (0 new, 1 already known)').waitFor();
    await page.getByText(/pnpm-lock\.yaml .*version 9/).waitFor();
    await page.getByText('Every package has settled').waitFor();
    const table = page.getByRole('region', { name: 'Packages of this request' });
    await table.locator('.badge', { hasText: 'Published' }).waitFor();
    await table.getByText('already known').waitFor();
  });

  it('an admin changes a licence tier, and visits users, the audit log and operations', async () => {
    const page = await signIn('admin');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Licences' }).click();
    await page.getByRole('heading', { name: 'Licence policy' }).waitFor();
    await page.getByLabel('Find a licence').fill('MPL');
    await page.getByLabel('Tier for MPL-2.0').selectOption('blocked');
    await page.getByText('MPL-2.0 is now blocked').waitFor();
    const row = await stack.tdb.db
      .selectFrom('supported_licenses')
      .select('tier')
      .where('spdx_id', '=', 'MPL-2.0')
      .executeTakeFirstOrThrow();
    expect(row.tier).toBe('blocked');
    await page.getByLabel('Find a licence').fill('');
    await checkAccessibility(page, 'licences');
    await photograph(page, 'licenses');

    await nav.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.getByText('Create a user').click();
    await page.getByLabel('Username').fill('casey-new');
    await page.getByLabel('Password', { exact: true }).fill('a long enough password');
    await page.getByLabel('Role', { exact: true }).selectOption('approver');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByText('casey-new was created as approver.').waitFor();
    await checkAccessibility(page, 'users');
    await photograph(page, 'users');

    await nav.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Action').fill('package.*');
    await page.getByRole('region', { name: 'Audit log entries' }).getByText('package.approve').first().waitFor();
    await page.getByRole('region', { name: 'Audit log entries' }).getByText('package.reject').waitFor();
    await checkAccessibility(page, 'audit log');
    await photograph(page, 'audit');

    await nav.getByRole('link', { name: 'Operations' }).click();
    const workers = page.getByRole('region', { name: 'Workers', exact: true });
    await workers.getByText('browser-test-worker').waitFor();
    await workers.getByText('alive').waitFor();
    await page.getByRole('region', { name: 'Stage timings', exact: true }).getByText('Download').waitFor();
    await checkAccessibility(page, 'operations');
    await photograph(page, 'operations');
  });

  it('an admin reads the approval policy, dry-runs a change and saves it as a new version', async () => {
    const page = await signIn('admin');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policy' }).click();
    await page.getByRole('heading', { name: 'Approval policy' }).waitFor();
    const rules = page.getByRole('region', { name: 'Rules in force' });
    await rules.getByText('serious-vulnerability').waitFor();
    await page.getByText('Edit the rules as JSON').click();
    const editor = page.getByLabel('Policy (JSON)');
    // Not JSON: said at once, nothing sent.
    await editor.fill('{ "rules": [');
    await page.getByText(/Not valid JSON/).waitFor();
    expect(await page.getByRole('button', { name: 'Dry run' }).isDisabled()).toBe(true);
    // Medium vulnerabilities now hold too: a new first rule.
    const current = (await stack.tdb.db
      .selectFrom('policy_versions')
      .select(['version', 'document'])
      .orderBy('version', 'desc')
      .executeTakeFirstOrThrow()) as { version: number; document: { rules: unknown[] } };
    const draft = {
      ...current.document,
      rules: [
        { id: 'medium-vulnerability', action: 'hold', when: { severity_at_least: 'medium' } },
        ...current.document.rules,
      ],
    };
    await editor.fill(JSON.stringify(draft, null, 2));
    await page.getByLabel('Why it changes').fill('hold medium vulnerabilities too');
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByRole('heading', { name: 'What this draft would do' }).waitFor();
    await checkAccessibility(page, 'policy');
    await photograph(page, 'policy');
    await page.getByRole('button', { name: `Save as version ${current.version + 1}` }).click();
    await page.getByText(`Version ${current.version + 1} is in force`).waitFor();
    await page.getByRole('heading', { name: `Version ${current.version + 1}, in force` }).waitFor();
    const saved = await stack.tdb.db
      .selectFrom('policy_versions')
      .select(['version', 'comment'])
      .orderBy('version', 'desc')
      .executeTakeFirstOrThrow();
    expect(saved).toEqual({ version: current.version + 1, comment: 'hold medium vulnerabilities too' });
    // A requester has no policy page, and the API refuses them too.
    const user = await signIn('user');
    expect(await user.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policy' }).count()).toBe(0);
    expect(await apiStatus(user, '/api/admin/policy')).toBe(403);
  });

  it('a requester makes an API token, sees its secret once, uses it, and revokes it', async () => {
    const page = await signIn('user');
    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByRole('heading', { name: 'API tokens', exact: true }).waitFor();
    await page.getByText('You have no live API token.').waitFor();
    await page.getByLabel('Name').fill('storefront CI');
    await page.getByLabel('Install from the registry').check();
    await page.getByRole('button', { name: 'Make token' }).click();
    const secret = await page.getByLabel('Secret').inputValue();
    expect(secret).toMatch(/^spm_/);
    const table = page.getByRole('region', { name: 'Your API tokens' });
    await table.getByRole('cell', { name: 'storefront CI', exact: true }).waitFor();
    await checkAccessibility(page, 'API tokens');
    await photograph(page, 'tokens');
    const asToken = () =>
      fetch(`${stack.url}/api/packages/requests`, { headers: { authorization: `Bearer ${secret}` } });
    expect((await asToken()).status).toBe(200);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.getByLabel('Secret').count()).toBe(0);
    await table.getByRole('button', { name: 'Revoke storefront CI' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('storefront CI was revoked').waitFor();
    expect((await asToken()).status).toBe(401);
  });

  it('an advisory after approval quarantines a published version; an approver sees who is affected and releases it', async () => {
    // A malicious-package record for left-align@1.4.0 arrives after it was published.
    await upsertAdvisories(stack.tdb.db, [
      {
        id: 'MAL-2026-9999',
        modified: new Date(),
        published: new Date(),
        withdrawn: null,
        aliases: [],
        summary: 'Malicious code in left-align (a stolen maintainer token)',
        severity: 'critical',
        cvssVector: null,
        malware: true,
        raw: { id: 'MAL-2026-9999' },
        affected: [
          {
            packageName: 'left-align',
            ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }],
            versions: [],
            fixedVersions: [],
          },
        ],
      },
    ]);
    const r = await reevaluateAdvisories(stack.tdb.db, ['MAL-2026-9999'], {
      quarantineSeverities: ['critical', 'high'],
    });
    expect(r.quarantined).toBe(1);

    const page = await signIn('approver');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Quarantine' }).click();
    await page.getByRole('heading', { name: 'Quarantine', exact: true }).waitFor();
    const list = page.getByRole('region', { name: 'Quarantined versions' });
    await list.getByRole('link', { name: 'left-align@1.4.0' }).waitFor();
    await list.getByText('MAL-2026-9999').waitFor();
    // Who is affected: the request that brought it in, its application and requestor.
    await page.getByLabel('Advisory id or alias').fill('MAL-2026-9999');
    await page.getByRole('button', { name: 'Show impact' }).click();
    const requests = page.getByRole('region', { name: 'Requests that include affected versions' });
    await requests.getByRole('link', { name: 'storefront@4.2.0' }).waitFor();
    await requests.getByText(USERS.user).first().waitFor();
    await checkAccessibility(page, 'quarantine');
    await photograph(page, 'quarantine');

    // The package's report says it is quarantined, and why.
    await list.getByRole('link', { name: 'left-align@1.4.0' }).click();
    const after = page.getByRole('region', { name: 'Advisories after approval' });
    await after.getByText(/refuses this version because of MAL-2026-9999/).waitFor();
    await after.getByRole('cell', { name: 'MAL-2026-9999' }).waitFor();
    expect((await fetch(`${stack.url}/registry/left-align/-/left-align-1.4.0.tgz`)).status).toBe(451);

    // Released until a date, with a reason: served again.
    await page.goBack();
    await list.getByRole('button', { name: 'Release left-align@1.4.0' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('a false report: the maintainer confirmed the token was not used');
    await dialog.getByRole('button', { name: 'Release' }).click();
    await page.getByText(/left-align@1\.4\.0 is released until/).waitFor();
    await page.getByText('No version is in quarantine.').waitFor();
    expect((await fetch(`${stack.url}/registry/left-align/-/left-align-1.4.0.tgz`)).status).toBe(200);
  });

  it('signing out ends the session: the cookies go and every page asks to sign in', async () => {
    const page = await signIn('user');
    const context = page.context();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/signin');
    expect((await context.cookies()).filter((c) => c.name.startsWith('spm_'))).toEqual([]);
    await page.goto(`/requests/${requestId}`);
    await page.waitForURL('**/signin');
    expect(await apiStatus(page, '/api/packages/requests')).toBe(401);
  });

  it('no page had a script error, a refused CSP directive or an off-site request', () => {
    expect(opened.flatMap((o) => o.problems)).toEqual([]);
  });
});

async function packageId(name: string): Promise<number> {
  const row = await stack.tdb.db.selectFrom('packages').select('id').where('name', '=', name).executeTakeFirstOrThrow();
  return row.id;
}
