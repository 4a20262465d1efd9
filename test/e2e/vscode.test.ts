// The extension in a real VS Code: code-server 4.100.3 with the extension installed from its
// .vsix, driven through Chromium like a person (command palette, quick inputs, views, status bar),
// against a real virtual board (MicroPython WebAssembly on a pseudo-terminal) and the local
// GitHub-compatible server. Screenshots go to test-results/screenshots/ (`npm run screenshots`
// writes them to media/screenshots/ for the README).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it as nodeIt } from 'node:test';
import { startGitHubMock, type GitHubMock } from '../support/github-mock';
import { buildSuite } from '../vscode-electron/build-suite';
import { missingPrerequisites, packageVsix, startCodeServer, type CodeServer } from './code-server';
import { openWorkbench, type Workbench } from './workbench';

const missing = missingPrerequisites();
// Under CI a missing code-server or Chromium is a failure, never a silent skip.
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing: ${missing.join(', ')}` : false;
const TOKEN = 'ghp_e2eTestToken0123456789abcdefABCDEF';
const RESULTS = join(__dirname, '../../test-results');

/** The steps build on each other: after a failure the rest fail at once (never a silent skip), and the screen is kept. */
let failed: string | undefined;
let current: Workbench | undefined;
function it(name: string, fn: () => Promise<void>): void {
  nodeIt(name, async () => {
    if (failed) throw new Error(`not run: it needs the failed step "${failed}"`);
    try {
      await fn();
    } catch (err) {
      failed = name;
      mkdirSync(RESULTS, { recursive: true });
      await current?.page.screenshot({ path: join(RESULTS, 'e2e-failure.png') }).catch(() => undefined);
      throw err;
    }
  });
}

describe('the extension in code-server', { skip, timeout: 420_000 }, () => {
  let root: string;
  let folder: string;
  let gh: GitHubMock;
  let cs: CodeServer | undefined;
  let wb: Workbench;
  let tipSha: string;

  before(async () => {
    assert.deepEqual(missing, [], `the end-to-end test needs: ${missing.join(', ')}`);
    root = mkdtempSync(join(tmpdir(), 'ota-e2e-'));
    folder = join(root, 'weather-station');
    mkdirSync(join(folder, 'app'), { recursive: true });
    mkdirSync(join(folder, '.vscode'), { recursive: true });
    writeFileSync(join(folder, 'app/main.py'), 'print("weather station 1.0.0")\n');
    gh = await startGitHubMock({ token: TOKEN });
    gh.addRepo('lab', 'weather-station');
    const tip = gh.setBranch('lab', 'weather-station', 'main', [
      { path: 'main.py', content: 'print("tip")\n' },
    ]);
    tipSha = String(tip).slice(0, 7);
    writeFileSync(
      join(folder, '.vscode/settings.json'),
      JSON.stringify({
        'ota.github.apiUrl': gh.apiUrl,
        'ota.github.repo': 'lab/weather-station',
        'ota.projectDir': 'app',
      }),
    );
    const vsix = packageVsix(root);
    cs = await startCodeServer({ root, vsix, folder });
    wb = await openWorkbench(cs.url, root);
    current = wb;
  });

  after(async () => {
    await wb?.close().catch(() => undefined);
    await cs?.close();
    await gh?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('shows the OTA view with welcome content when there is no board', async () => {
    await wb.command('OTA: Focus on Devices View');
    await wb.page.getByText('No MicroPython board found').waitFor({ timeout: 60_000 });
    await wb.shot('welcome');
  });

  it('keeps the GitHub token in secret storage', async () => {
    await wb.command('OTA: Set GitHub Token');
    await wb.input('GitHub token', TOKEN);
  });

  it('starts a virtual board and lists it in the Devices tree', async () => {
    await wb.command('OTA: Start Virtual Board');
    await wb.treeItem(/^Virtual board, no app/, 120_000);
    await wb.treeItem(/^MicroPython: 1\.\d+/);
  });

  it('configures the device with the guided flow', async () => {
    await wb.command('OTA: Configure Device');
    await wb.pick('Where do releases come from?', 'github');
    await wb.input('GitHub repository', 'lab/weather-station');
    await wb.input('GitHub API URL', gh.apiUrl);
    await wb.pick('Which releases should the board follow?', 'stable');
    await wb.pick('Signed releases?', 'No signatures');
    await wb.pick('Wi-Fi for the board', 'None');
    await wb.page
      .getByRole('tab', { name: /ota_config\.json/ })
      .first()
      .waitFor({ timeout: 30_000 });
  });

  it('installs the updater on the board', async () => {
    await wb.command('OTA: Install Updater on Device');
    await wb.treeItem(/^OTA state: idle/, 120_000);
  });

  it('publishes 1.0.0 from the command palette and updates the board to it', async () => {
    await wb.command('OTA: Publish Release');
    await wb.input('Version to publish', '1.0.0');
    await wb.treeItem(/^stable 1\.0\.0/, 60_000);
    // The tip carries its commit's date (the mock dates commits 2023-11-14).
    await wb.treeItem(new RegExp(`^developer main@${tipSha}, 2023-11-14`));
    const status = await wb.statusItem(/OTA 1\.0\.0 available/);
    await status.click();
    await wb.treeItem(/^Virtual board, v1\.0\.0/, 180_000);
    await wb.command('OTA: Confirm Update');
    await wb.treeItem(/^Virtual board, v1\.0\.0 · idle/, 60_000);
  });

  it('offers 1.1.0 in the status bar and moves the board to it, with progress and output', async () => {
    writeFileSync(join(folder, 'app/main.py'), 'print("weather station 1.1.0")\n');
    await wb.command('OTA: Publish Release');
    await wb.input('Version to publish', '1.1.0');
    await wb.treeItem(/^stable 1\.1\.0/, 60_000);
    const status = await wb.statusItem(/OTA 1\.1\.0 available/);
    await wb.shot('update-available');
    await wb.command('Notifications: Clear All Notifications');
    await status.click();
    await wb.notification(/Updating board/, 60_000);
    await wb.page.waitForTimeout(400); // let the toast finish fading in for the screenshot
    await wb.shot('update-progress');
    await wb.treeItem(/^Virtual board, v1\.1\.0/, 180_000);
    await wb.statusItem(/OTA 1\.1\.0$/);
    await wb.page
      .locator('.output-view, .panel')
      .getByText(/"ev":"done"/)
      .first()
      .waitFor({ timeout: 30_000 });
    await wb.shot('updated');
  });

  it('lists a prerelease under the beta channel, leaving stable boards alone', async () => {
    writeFileSync(join(folder, 'app/main.py'), 'print("weather station 1.2.0-beta.1")\n');
    await wb.command('OTA: Publish Release');
    await wb.input('Version to publish', '1.2.0-beta.1');
    await wb.treeItem(/^beta 1\.2\.0-beta\.1/, 60_000);
    await wb.statusItem(/OTA 1\.1\.0$/);
  });

  it('watches the console and lends the port to a command meanwhile', async () => {
    await wb.command('OTA: Watch Device');
    await wb.page
      .locator('.panel')
      .getByText(/Watching\s.*ota-virtual-board/)
      .first()
      .waitFor({ timeout: 30_000 });
    await wb.command('OTA: Confirm Update');
    await wb.treeItem(/^Virtual board, v1\.1\.0 · idle/, 60_000);
    await wb.command('OTA: Watch Device');
    await wb.page
      .locator('.panel')
      .getByText(/Stopped\swatching/)
      .first()
      .waitFor({ timeout: 30_000 });
  });

  it('rolls a fresh update back; the Devices tree shows the release before it', async () => {
    writeFileSync(join(folder, 'app/main.py'), 'print("weather station 1.2.0")\n');
    await wb.command('OTA: Publish Release');
    await wb.input('Version to publish', '1.2.0');
    const status = await wb.statusItem(/OTA 1\.2\.0 available/);
    await status.click();
    await wb.treeItem(/^Virtual board, v1\.2\.0 · confirm_pending/, 180_000);
    await wb.command('OTA: Roll Back Device');
    await wb.page.locator('.monaco-dialog-box').getByRole('button', { name: 'Roll Back' }).click();
    await wb.treeItem(/^Virtual board, v1\.1\.0 · idle/, 60_000);
  });

  it('passes the in-VS-Code suite in the extension host (activation, commands, views)', async () => {
    const suite = buildSuite(root);
    const { code, log } = await wb.runExtensionTests(folder, cs!.extensionDir, suite);
    console.log(log.join('\n'));
    assert.equal(code, 0, `${log.join('\n')}\n${cs!.log().slice(-4000)}`);
  });
});
