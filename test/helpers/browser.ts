/**
 * Browser tests drive Debian's Chromium (apt-get install chromium; .ci/run
 * installs it) through playwright-core, pinned to the version whose protocol
 * matches it. The network is closed, so Chromium's own background traffic is
 * switched off. Outside CI a machine without Chromium skips them with a
 * visible message; in CI they run and fail.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe } from 'vitest';
import { ROOT } from './cli.js';

export const CHROMIUM = process.env.MOE_ROUTER_CHROMIUM ?? '/usr/lib/chromium/chromium';
const available = existsSync(CHROMIUM);
if (!available && !process.env.CI) console.warn(`\n*** SKIPPING browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium) ***\n`);

export const describeBrowser = available || process.env.CI ? describe : describe.skip;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-default-apps', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Where screenshots go for a person to look at (gitignored). */
export function artifactPath(name: string): string {
  const dir = join(ROOT, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** What a page did that it must not: dialogs, console errors, uncaught errors, CSP violations. */
export interface PageWatch {
  dialogs: string[];
  consoleErrors: string[];
  pageErrors: string[];
  cspViolations: () => Promise<string[]>;
}

export async function watch(page: Page): Promise<PageWatch> {
  const w = { dialogs: [] as string[], consoleErrors: [] as string[], pageErrors: [] as string[] };
  page.on('dialog', (d) => {
    w.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error') w.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => w.pageErrors.push(e.message));
  // strings, not functions: the tests are type-checked without the DOM library
  await page.addInitScript({
    content: "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
  });
  return { ...w, cspViolations: () => page.evaluate<string[]>('window.__csp || []') };
}
