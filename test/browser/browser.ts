import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { root } from '../support/stack.js';

/*
 * Debian's Chromium driven by playwright-core (Playwright's own browser download cannot work here).
 * Every page is checked with axe-core and photographed at laptop and phone width.
 */

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);

/** Where screenshots go: docs/screenshots with UPDATE_SCREENSHOTS=1 (to commit them), else .tmp/screenshots. */
export const screenshotDir =
  process.env.UPDATE_SCREENSHOTS === '1' ? join(root, 'docs/screenshots') : join(root, '.tmp/screenshots');

export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--lang=en-GB',
    ],
  });
}

/**
 * A browser context (one person's cookie jar) whose pages fail the test on a script error, a refused
 * Content-Security-Policy or a request to anywhere but the API under test.
 */
export async function newPerson(
  browser: Browser,
  baseURL: string,
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ baseURL, viewport: LAPTOP, locale: 'en-GB', timezoneId: 'UTC' });
  const problems: string[] = [];
  await context.route('**/*', (route) =>
    route.request().url().startsWith(baseURL)
      ? route.continue()
      : (problems.push(`off-site request ${route.request().url()}`), route.abort()),
  );
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content.Security.Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
    else if (msg.type() === 'error' && !/status of (401|403|404|409)/.test(text))
      problems.push(`console error: ${text}`);
  });
  return { context, page, problems };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown; failureSummary?: string }>;
}

/**
 * Runs axe-core (WCAG 2.0/2.1/2.2 A and AA rules) on the page as it is; fails on any serious or critical
 * violation, naming the rule and the elements. Injected through the DevTools protocol, not a script tag, so
 * the page's CSP stays as strict as in production.
 */
export async function checkAccessibility(page: Page, where: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: unknown[] }> } })
      .axe;
    const res = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    });
    return res.violations;
  });
  const bad = (violations as AxeViolation[]).filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => `${JSON.stringify(n.target)} ${n.failureSummary ?? ''}`).join('\n    ')}`,
  );
  expect(report, `accessibility of ${where}`).toEqual([]);
  axeRuns.push({ where, violations: (violations as AxeViolation[]).map((v) => `${v.id}:${v.impact}`) });
}

/** Every axe run of this file and its minor/moderate findings (printed at the end). */
export const axeRuns: Array<{ where: string; violations: string[] }> = [];

/** Screenshots the page at laptop width and at phone width (full page), as `<name>.png` and `<name>-phone.png`. */
export async function photograph(page: Page, name: string): Promise<void> {
  await mkdir(screenshotDir, { recursive: true });
  await page.setViewportSize(LAPTOP);
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true, animations: 'disabled' });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(screenshotDir, `${name}-phone.png`), fullPage: true, animations: 'disabled' });
  await checkAccessibility(page, `${name} at phone width`);
  await page.setViewportSize(LAPTOP);
}
