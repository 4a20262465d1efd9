/**
 * Drives the VS Code workbench in Chromium through playwright-core, the way a person does:
 * the command palette, quick inputs, views, the status bar, notifications.
 *
 *   const wb = await openWorkbench(cs.url, folder, root);
 *   await wb.command('OTA: Publish Release');  await wb.input('1.1.0');
 *   await wb.treeItem(/1\.1\.0/);  await wb.shot('releases');  await wb.close();
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { CHROMIUM, REPO, sandboxEnv } from './code-server';

// Test runs keep their pictures out of the tree; `npm run screenshots` points this at
// media/screenshots/ to refresh the README's images.
export const SCREENSHOTS = resolve(REPO, process.env.OTA_SCREENSHOTS_DIR ?? 'test-results/screenshots');

export interface Workbench {
  page: Page;
  /** Loads a second window whose extension host runs `suiteJs` (run()) against `extensionDir`. */
  runExtensionTests(
    folder: string,
    extensionDir: string,
    suiteJs: string,
  ): Promise<{ code: number; log: string[] }>;
  command(title: string): Promise<void>;
  /** Answers the quick input titled `title` (waits for it: the previous one may still be closing). */
  input(title: string, text: string): Promise<void>;
  pick(title: string, label: string | RegExp): Promise<void>;
  treeItem(name: string | RegExp, timeoutMs?: number): Promise<Locator>;
  statusItem(text: string | RegExp, timeoutMs?: number): Promise<Locator>;
  notification(text: string | RegExp, timeoutMs?: number): Promise<Locator>;
  shot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function openWorkbench(url: string, root: string): Promise<Workbench> {
  const userData = join(root, 'chromium');
  mkdirSync(userData, { recursive: true });
  // A fresh user-data dir per run: no profile, cache or service worker carried over.
  const browser: BrowserContext = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    viewport: { width: 1400, height: 860 },
    env: sandboxEnv(join(root, 'chromium-env')) as Record<string, string>,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(url, { timeout: 60_000 });
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  await page.locator('.statusbar').waitFor({ timeout: 60_000 });
  // The extension's contributions are in once its activity-bar entry is.
  await page.locator('.activitybar [aria-label="OTA"]').first().waitFor({ timeout: 60_000 });

  const quickInput = page.locator('.quick-input-widget');
  const wb: Workbench = {
    page,
    async runExtensionTests(folder, extensionDir, suiteJs) {
      const remote = (p: string) => `vscode-remote://${new URL(url).host}${p}`;
      const payload = [
        ['extensionDevelopmentPath', remote(extensionDir)],
        ['extensionTestsPath', remote(suiteJs)],
      ];
      const tests = await browser.newPage();
      // The extension host's console reaches the page's console: keep the suite's lines.
      const log: string[] = [];
      tests.on('console', (m) => {
        const at = m.text().indexOf('[suite]');
        if (at >= 0) log.push(m.text().slice(at));
      });
      try {
        // The workbench reports the suite's outcome through this hook (as @vscode/test-web does).
        const exit = new Promise<number>(
          (res) => void tests.exposeFunction('codeAutomationExit', (code: number) => res(code)),
        );
        await tests.goto(
          `${url}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`,
        );
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<number>((_, rej) => {
          timer = setTimeout(
            () => rej(new Error('the extension-host suite did not finish in 120 s')),
            120_000,
          );
        });
        try {
          return { code: await Promise.race([exit, timeout]), log };
        } finally {
          clearTimeout(timer);
        }
      } finally {
        await tests.close().catch(() => undefined);
      }
    },
    async command(title) {
      const box = quickInput.locator('input[aria-label="Type the name of a command to run."]');
      // Startup editors (welcome page, walkthrough) can take focus and close the palette: retry.
      for (let attempt = 0; ; attempt++) {
        await page.keyboard.press('F1');
        try {
          await box.waitFor({ state: 'visible', timeout: 5_000 });
          await box.fill(`>${title}`, { timeout: 5_000 });
          break;
        } catch (err) {
          if (attempt >= 4) throw err;
          await page.keyboard.press('Escape');
        }
      }
      const row = quickInput.locator('.monaco-list-row', { hasText: title }).first();
      await row.waitFor({ timeout: 20_000 });
      await box.press('Enter');
      // The palette closes before the command's own quick input (if any) opens.
      // (A string expression: it runs in the page, and this project compiles without the DOM types.)
      const typed = JSON.stringify(`>${title}`);
      await page.waitForFunction(
        `(() => { const i = document.querySelector('.quick-input-widget input'); return !i || i.offsetParent === null || i.value !== ${typed}; })()`,
        undefined,
        { timeout: 10_000 },
      );
    },
    async input(title, text) {
      await quickInput.filter({ hasText: title }).waitFor({ timeout: 30_000 });
      const box = quickInput.locator('input').first();
      await box.fill(text);
      await box.press('Enter');
      await quickInput.filter({ hasText: title }).waitFor({ state: 'hidden', timeout: 30_000 });
    },
    async pick(title, label) {
      await quickInput.filter({ hasText: title }).waitFor({ timeout: 30_000 });
      const row = quickInput.locator('.monaco-list-row', { hasText: label }).first();
      await row.waitFor({ timeout: 20_000 });
      await row.click();
      await quickInput.filter({ hasText: title }).waitFor({ state: 'hidden', timeout: 30_000 });
    },
    async treeItem(name, timeoutMs = 60_000) {
      const item = page.getByRole('treeitem', { name }).first();
      await item.waitFor({ timeout: timeoutMs });
      return item;
    },
    async statusItem(text, timeoutMs = 60_000) {
      const item = page.locator('.statusbar-item', { hasText: text }).first();
      await item.waitFor({ timeout: timeoutMs });
      return item;
    },
    async notification(text, timeoutMs = 60_000) {
      const toast = page.locator('.notification-toast', { hasText: text }).first();
      await toast.waitFor({ timeout: timeoutMs });
      return toast;
    },
    async shot(name) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const file = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path: file });
      return file;
    },
    close: () => browser.close(),
  };
  return wb;
}
