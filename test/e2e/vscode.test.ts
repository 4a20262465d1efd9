// The extension in a real VS Code, as a new user meets it: code-server 4.100.3 with the extension
// installed from its .vsix, driven through Chromium like a person (command palette, quick inputs,
// views, status bar, notification buttons), on a fresh copy of examples/weather-station with
// nothing pre-seeded: no settings, no key, no ota_config.json, no token. The journey starts in the
// walkthrough, opened from the empty Devices view, clicking each step's button in order: Start
// Virtual Board, Configure Device (static, this computer, a new signing key), Install Updater,
// Publish Release (signed), Serve Releases Locally, Update Device Now (first try); then 1.1.0 by
// delta from the palette; then the Fleet view with the boards of
// `ota demo --fleet` and a rollout started from the palette; then the same board moved to an OCI
// registry (Debian's docker-registry on 127.0.0.1) and updated from it. Screenshots of each step go to
// test-results/screenshots/ (`npm run screenshots` writes them to media/screenshots/ for the README).
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it as nodeIt } from 'node:test';
import { inRollout } from '../../src/core/fleet/protocol';
import { deviceTrustEntry } from '../../src/core/keys';
import type { ManifestSignature } from '../../src/core/manifest-types';
import { verifySignature } from '../../src/core/sign';
import { publishOci } from '../../src/core/publish/oci';
import { startFleetDemo, type FleetDemo } from '../../src/demo/fleet';
import { registryMissing, startRegistry, type TestRegistry } from '../support/registry';
import { buildSuite } from '../vscode-electron/build-suite';
import { missingPrerequisites, packageVsix, REPO, startCodeServer, type CodeServer } from './code-server';
import { openWorkbench, type Workbench } from './workbench';
import type { Locator } from 'playwright-core';

const missing = missingPrerequisites();
// Under CI a missing code-server or Chromium is a failure, never a silent skip.
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing: ${missing.join(', ')}` : false;
const RESULTS = join(__dirname, '../../test-results');
const ROLLOUT_110 = { version: '1.1.0', groups: [], devices: [] };
// The OCI step needs docker-registry: outside CI its absence skips that step with one line (under
// CI=true registryMissing throws: a failure, never a skip).
const noRegistry = skip ? false : (registryMissing() ?? false);
// The suite's private-registry check also needs htpasswd (apache2-utils); without it, that check skips.
const noPrivateRegistry = skip ? false : (registryMissing(['/usr/bin/htpasswd']) ?? false);
/** The token the suite's test GitHub provider hands out, which the private registry accepts. */
const GHCR_TOKEN = 'gho_e2eLocalRegistryToken';

/** The steps build on each other: after a failure the rest fail at once (never a silent skip), and the screen is kept. */
let failed: string | undefined;
let current: Workbench | undefined;
function it(name: string, fn: () => Promise<void>, opts: { skip?: string | false } = {}): void {
  nodeIt(name, opts, async () => {
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

/** Every file under `dir`, relative, `/`-separated. */
function tree(dir: string, base = ''): string[] {
  return readdirSync(join(dir, base), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tree(dir, `${base}${e.name}/`) : [`${base}${e.name}`],
  );
}

describe('a new user in code-server, with the defaults', { skip, timeout: 600_000 }, () => {
  let root: string;
  let folder: string;
  let cs: CodeServer | undefined;
  let wb: Workbench;
  let demo: FleetDemo | undefined;
  let registry: TestRegistry | undefined;
  /** Where Create Signing Key puts the key named "default": `ota keygen`'s folder under code-server's XDG_CONFIG_HOME. */
  let keyPath: string;

  /** A walkthrough step: opened when it is not (a finished step opens the next), then its button clicked. */
  /**
   * Clicks a walkthrough step's button. With `effect` (for a command that may run twice, as Serve
   * Releases Locally may): a click the walkthrough lost while it re-rendered (seen once on a fresh
   * clone: the previous step ticked as the click landed) is given once more when the effect is late.
   */
  async function clickStep(
    id: string,
    button: string,
    effect?: (ms: number) => Promise<unknown>,
  ): Promise<void> {
    const step = wb.page.locator(`.gettingStartedContainer .getting-started-step[data-step-id$="#${id}"]`);
    const click = async () => {
      if ((await step.getAttribute('aria-expanded', { timeout: 30_000 })) !== 'true') await step.click();
      await step.locator('.button-container .monaco-button', { hasText: button }).click({ timeout: 30_000 });
    };
    await click();
    if (!effect) return;
    if (
      await effect(20_000).then(
        () => true,
        () => false,
      )
    )
      return;
    await click();
    await effect(60_000);
  }

  /** The step is ticked: its command succeeded (package.json completionEvents). */
  async function stepDone(id: string): Promise<void> {
    await wb.page
      .locator(`.gettingStartedContainer .getting-started-step[data-step-id$="#${id}"][aria-checked="true"]`)
      .waitFor({ state: 'attached', timeout: 30_000 });
  }
  /** Waits for a line of the output panel, shown through the panel's filter (the view renders only visible lines). */
  async function outputLine(filter: string, line: RegExp): Promise<void> {
    const box = wb.page.locator('.panel input[placeholder^="Filter"]').first();
    await box.fill(filter);
    await wb.page.locator('.panel .view-line').filter({ hasText: line }).first().waitFor({ timeout: 30_000 });
  }

  /** A row of the Fleet view by its text (label and description). */
  async function fleetRow(text: RegExp): Promise<Locator> {
    const view = wb.page.locator('.pane', { has: wb.page.locator('.pane-header', { hasText: /^Fleet/i }) });
    const row = view.locator('.monaco-list-row', { hasText: text }).first();
    await row.waitFor({ timeout: 60_000 });
    return row;
  }

  before(async () => {
    assert.deepEqual(missing, [], `the end-to-end test needs: ${missing.join(', ')}`);
    root = mkdtempSync(join(tmpdir(), 'ota-e2e-'));
    folder = join(root, 'weather-station');
    keyPath = join(root, 'config/micropython-ota/keys/default.json');
    cpSync(join(REPO, 'examples/weather-station'), folder, { recursive: true });
    const vsix = packageVsix(root);
    cs = await startCodeServer({ root, vsix, folder });
    wb = await openWorkbench(cs.url, root);
    current = wb;
  });

  after(async () => {
    await demo?.close();
    await registry?.close();
    await wb?.close().catch(() => undefined);
    await cs?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('shows the OTA view with welcome content when there is no board', async () => {
    await wb.command('OTA: Focus on Devices View');
    await wb.page.getByText('No MicroPython board found').waitFor({ timeout: 60_000 });
    await wb.shot('welcome');
  });

  // The first-time path: the Devices view's welcome links the walkthrough, and each step's button
  // does what its text says, in order, until the board runs the release it published.
  it("opens the walkthrough from the Devices view's welcome, and its first button starts a virtual board", async () => {
    await wb.page
      .getByRole('button', { name: 'walkthrough' })
      .or(wb.page.getByRole('link', { name: 'walkthrough' }))
      .first()
      .click();
    await wb.page
      .locator('.gettingStartedContainer .getting-started-step')
      .first()
      .waitFor({ timeout: 30_000 });
    await wb.page.getByText('Update MicroPython boards over the air').first().waitFor();
    await wb.shot('walkthrough');
    await clickStep('board', 'Start Virtual Board');
    const board = await wb.treeItem(/^Virtual board, no app · no updater/, 120_000);
    await stepDone('board');
    // The menus follow the board's state: Install inline, no Confirm or Roll Back.
    await board.hover();
    await board.getByRole('button', { name: 'Install Updater on Device' }).waitFor({ timeout: 10_000 });
    assert.equal(await board.getByRole('button', { name: 'Confirm Update' }).count(), 0);
    await wb.treeItem(/^MicroPython: 1\.\d+/);
    // Nothing configured yet: the Releases view says so instead of "No releases yet".
    await wb.treeItem(/^Not configured, run Configure Device/, 60_000);
    await wb.shot('virtual-board');
  });

  it('configures the device from the walkthrough: this computer, and a new signing key outside the project', async () => {
    await clickStep('configure', 'Configure Device');
    await wb.pick('Where do releases come from?', 'Static host');
    await wb.pick('Where are the releases served?', 'This computer, for the virtual board');
    // Back from the name returns to the question, nothing made; then the key is made.
    await wb.pick('Signed releases?', 'Create a new signing key');
    const widget = wb.page.locator('.quick-input-widget');
    await widget.filter({ hasText: 'Name of the new signing key' }).waitFor({ timeout: 30_000 });
    await widget.getByRole('button', { name: 'Back' }).first().click();
    await wb.pick('Signed releases?', 'Create a new signing key');
    assert.ok(!existsSync(keyPath), 'Back made no key');
    // The name box suggests "default" (nothing exists yet) and says where the key goes.
    const named = wb.page.locator('.quick-input-widget').filter({ hasText: 'Name of the new signing key' });
    await named
      .getByText(/micropython-ota\/keys\/NAME\.json \(outside the workspace/)
      .waitFor({ timeout: 30_000 });
    assert.equal(await named.locator('input').first().inputValue(), 'default');
    await wb.shot('signing-key');
    await wb.input('Name of the new signing key', 'default');
    await wb.pick('Wi-Fi for the board', 'None');
    await wb.pick('Fleet for the board', 'No fleet');
    const review = wb.page.locator('.quick-input-widget').filter({ hasText: 'Save this configuration?' });
    await review.waitFor({ timeout: 30_000 });
    await wb.page.locator('.quick-input-widget .monaco-list-row', { hasText: '"static"' }).first().waitFor();
    await wb.page.locator('.quick-input-widget .monaco-list-row', { hasText: '"ed25519"' }).first().waitFor();
    // The key is written at Save, not before: a configuration cancelled here leaves none.
    await wb.page
      .locator('.quick-input-widget .monaco-list-row', {
        hasText: /new Ed25519 key [0-9a-f]{16}, written to /,
      })
      .first()
      .waitFor();
    assert.ok(!existsSync(keyPath), 'no key file before Save');
    await wb.shot('configure-review');
    await wb.pick('Save this configuration?', 'Save');
    await stepDone('configure');
    // The key: where `ota keygen` puts it (code-server's XDG_CONFIG_HOME), 0600, outside the project;
    // the user's settings name it. Workspace state, not files: nothing new in the project.
    assert.ok(existsSync(keyPath), `${keyPath} was written`);
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
    const user = JSON.parse(readFileSync(join(root, 'user-data/User/settings.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(user['ota.signingKey'], keyPath);
    assert.ok(!existsSync(join(folder, '.vscode')), '.vscode/ was not written');
    assert.ok(!existsSync(join(folder, 'ota_config.json')), 'ota_config.json was not written');
    await wb.treeItem(/^Host unreachable, http:\/\/127\.0\.0\.1:\d+/, 60_000);
  });

  it('installs the updater from the walkthrough', async () => {
    await wb.command('Notifications: Clear All Notifications');
    await clickStep('install', 'Install Updater on Device');
    await wb.treeItem(/^OTA state: idle/, 120_000);
    await stepDone('install');
  });

  it('publishes 1.0.0 signed from the walkthrough; the Releases view says the host is not running yet', async () => {
    await clickStep('publish', 'Publish Release');
    await wb.input('Version to publish', '1.0.0');
    await wb.notification(/Published 1\.0\.0 .*Boards reach it once it is served/, 60_000);
    await wb.treeItem(/^Host unreachable, http:\/\/127\.0\.0\.1:\d+/, 60_000);
    await stepDone('publish');
    await wb.shot('published-not-served');
    // The release holds the app only (no editor, tool, reserved or key files), signed by the new key.
    const v = join(folder, '.ota/releases/1.0.0');
    assert.deepEqual(tree(v).sort(), [
      'data/station.json',
      'lib/display.py',
      'lib/sensor.py',
      'main.py',
      'manifest.json',
      'manifest.json.sig',
    ]);
    const sig = JSON.parse(readFileSync(join(v, 'manifest.json.sig'), 'utf8')) as ManifestSignature;
    verifySignature(readFileSync(join(v, 'manifest.json')), sig, [await deviceTrustEntry(keyPath)]);
  });

  it('serves the releases from the walkthrough, shown in the status bar', async () => {
    await wb.command('Notifications: Clear All Notifications');
    const serving = /Serving releases 127\.0\.0\.1:\d+/;
    await clickStep('host', 'Serve Releases Locally', (ms) => wb.statusItem(serving, ms));
    await wb.treeItem(/^stable 1\.0\.0/, 60_000);
    await wb.statusItem(/OTA 1\.0\.0 available/);
    await stepDone('host');
    await wb.shot('serving');
  });

  it('updates the board from the walkthrough on the first try: every step ticked', async () => {
    await clickStep('update', 'Update Device Now');
    await wb.treeItem(/^Virtual board, v1\.0\.0 · idle/, 180_000);
    await stepDone('update');
    await outputLine('done', /install\s1\.0\.0\sdone\sin\s\d+\.\d\ss/);
    await wb.statusItem(/OTA 1\.0\.0$/);
    await wb.command('Notifications: Clear All Notifications');
    await wb.command('View: Hide Panel');
    await wb.page.locator('.gettingStartedContainer').first().waitFor();
    await wb.shot('walkthrough-done');
    await wb.command('View: Close All Editors');
  });

  it('offers 1.1.0 and moves the board to it by delta, with readable output', async () => {
    cpSync(join(folder, 'updates/1.1.0'), folder, { recursive: true });
    await wb.command('Notifications: Clear All Notifications');
    await wb.command('MicroPython OTA: Publish Release');
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
    // Only the changed file travelled; events read as sentences.
    await outputLine('→', /update\s1\.0\.0\s→\s1\.1\.0\sdone\sin\s\d+\.\d\ss/);
    await outputLine('✓', /lib\/display\.py\s[\d.]+\sK?B\s✓\s\(1\/1\)/);
    // 1.0.0 brought every file; 1.1.0 only the one that changed.
    await outputLine('downloading', /downloading\s1\.1\.0:\s1\sfile,/);
    await wb.page
      .locator('.panel .view-line')
      .filter({ hasText: /downloading\s1\.0\.0:\s4\sfiles/ })
      .first()
      .waitFor();
    await wb.shot('updated');
    await outputLine('', /\S/);
  });

  it('watches the board, says so in the tree and the status bar, and stops from there', async () => {
    await wb.command('MicroPython OTA: Watch Device');
    const watching = await wb.statusItem(/Watching virtual/);
    const board = await wb.treeItem(/^Virtual board, v1\.1\.0 · idle · watching/, 30_000);
    await board.hover();
    await board.getByRole('button', { name: 'Stop Watching Device' }).waitFor({ timeout: 10_000 });
    assert.equal(await board.getByRole('button', { name: 'Install Updater on Device' }).count(), 0);
    assert.equal(await board.getByRole('button', { name: 'Confirm Update' }).count(), 0);
    await wb.shot('watching');
    await watching.click();
    await wb.treeItem(/^Virtual board, v1\.1\.0 · idle$/, 30_000);
  });

  it('opens a REPL on the board from the Devices tree, in the terminal panel', async () => {
    const board = await wb.treeItem(/^Virtual board, v1\.1\.0/);
    await board.hover();
    await board.getByRole('button', { name: 'Open REPL' }).click();
    const term = wb.page.locator('.terminal-wrapper.active .xterm-rows, .terminal .xterm-rows').first();
    await term.filter({ hasText: '>>>' }).waitFor({ timeout: 30_000 });
    await wb.page.locator('.terminal .xterm-helper-textarea').first().focus();
    await wb.page.keyboard.type('print(6*7)');
    await wb.page.keyboard.press('Enter');
    await term.filter({ hasText: /^[\s\S]*\b42\b/ }).waitFor({ timeout: 30_000 });
    await wb.shot('repl');
    // The port is shared: a command still works while the REPL is open.
    await wb.page.getByRole('button', { name: 'Refresh Devices' }).first().click();
    await term.filter({ hasText: /paused[\s\S]*resumed/ }).waitFor({ timeout: 30_000 });
    await wb.treeItem(/^Virtual board, v1\.1\.0 · idle/, 30_000);
    await wb.command('Terminal: Kill the Active Terminal Instance');
  });

  it("browses the board's files, opens one and compares one with the workspace", async () => {
    await wb.command('OTA: Focus on Files View');
    await wb.treeItem(/^main\.py/, 60_000);
    await (await wb.treeItem(/^lib, folder/)).click();
    const display = await wb.treeItem(/^display\.py/);
    await display.hover();
    await display.getByRole('button', { name: 'Compare with Workspace' }).click();
    await wb.page
      .getByRole('tab', { name: /display\.py \(board ↔ workspace\)/ })
      .first()
      .waitFor({ timeout: 30_000 });
    await (await wb.treeItem(/^main\.py/)).click();
    await wb.page
      .getByRole('tab', { name: /main\.py/ })
      .first()
      .waitFor({ timeout: 30_000 });
    await wb.page
      .locator('.editor-instance .view-line', { hasText: 'import ota' })
      .first()
      .waitFor({ timeout: 30_000 });
    await wb.shot('files');
  });

  it('turns a stopped host into an error that names the URL, with a button that fixes it', async () => {
    await wb.command('MicroPython OTA: Stop Serving Releases');
    await wb.command('Notifications: Clear All Notifications');
    await wb.command('MicroPython OTA: Update Device Now');
    const toast = await wb.notification(/Cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/, 60_000);
    await wb.page.waitForTimeout(400); // the toast's buttons slide in
    await wb.shot('error-actionable');
    await toast.getByRole('button', { name: 'Serve Releases Locally' }).click();
    await wb.statusItem(/Serving releases 127\.0\.0\.1:\d+/);
  });

  it('shows the demo fleet, rolls 1.1.0 out from the palette, and sums the rollout up in the status bar', async () => {
    // The parts of `ota demo --fleet`, in this process: aedes, a static host with a signed 1.0.0, and
    // three of its virtual boards, each reporting after one check.
    demo = await startFleetDemo({ deviceDir: join(REPO, 'device'), boards: 3 });
    await demo.checkAll();
    await demo.publish110();
    const chosen = demo.ids.filter((id) => inRollout(id, null, { ...ROLLOUT_110, percent: 34 }));
    assert.ok(chosen.length >= 1 && chosen.length < demo.ids.length, `34% picks ${chosen.join(', ')}`);
    // The release key that signs rollouts is a setting, set once (as the file dialog would).
    const settingsFile = join(folder, '.vscode/settings.json');
    const settings = existsSync(settingsFile)
      ? (JSON.parse(readFileSync(settingsFile, 'utf8')) as Record<string, unknown>)
      : {};
    mkdirSync(join(folder, '.vscode'), { recursive: true });
    writeFileSync(settingsFile, JSON.stringify({ ...settings, 'ota.fleet.key': demo.keyFile }, null, 2));

    await wb.command('Notifications: Clear All Notifications');
    await wb.command('MicroPython OTA: Connect to Fleet');
    await wb.input('Fleet broker', demo.broker);
    await wb.input('Fleet name', demo.fleet);
    await wb.command('OTA: Focus on Fleet View');
    await fleetRow(/^1\.0\.0\s*3 boards/);
    await (await fleetRow(/^north\s*\d boards?/)).click();
    await fleetRow(/^station-\d/); // a board: online or not, OTA state, last check
    await wb.statusItem(/3 boards, \d online, 3 on 1\.0\.0/);
    await wb.shot('fleet');

    await wb.command('MicroPython OTA: Roll Out Release');
    await wb.input('Roll out release', '1.1.0');
    await wb.input('what share of the fleet', '34');
    await wb.input('which groups in any case', '');
    await wb.input('Where is 1.1.0 published?', demo.host);
    await wb.notification(/Rolling out 1\.1\.0 to 34% of the fleet/, 30_000);
    await wb.statusItem(new RegExp(`1\\.1\\.0 rollout 34%: 0 updated / 0 failed / ${chosen.length} pending`));
    // The boards check in: the ones the rollout picks install 1.1.0 and report it after their reset.
    await demo.checkAll();
    await demo.checkAll(chosen);
    await fleetRow(new RegExp(`^1\\.1\\.0\\s*${chosen.length} boards?`));
    await wb.statusItem(
      new RegExp(`1\\.1\\.0 rollout 34%: ${chosen.length} updated / 0 failed / 0 pending`),
      60_000,
    );
    await wb.shot('fleet-rollout');
  });

  it(
    'moves the board to an OCI registry: Configure Device, Publish Release, the Releases view, Update Device Now',
    async () => {
      registry = await startRegistry();
      const ref = `${registry.host}/me/app`;
      await wb.command('Notifications: Clear All Notifications');
      await wb.command('MicroPython OTA: Configure Device');
      await wb.pick('Where do releases come from?', 'OCI registry');
      await wb.input('OCI repository', ref);
      // A private repository on plain HTTP: the password is refused in the box; Back to Public.
      const widget = wb.page.locator('.quick-input-widget');
      await wb.pick('Who may pull from the repository?', 'Private');
      await wb.input('Registry user name', 'me');
      await widget.filter({ hasText: 'Registry password or token' }).waitFor({ timeout: 30_000 });
      await widget.locator('input').first().fill('s3cret');
      await widget.getByText(/password is sent only over https:\/\//).waitFor({ timeout: 10_000 });
      for (const title of ['Registry password or token', 'Registry user name']) {
        await widget.filter({ hasText: title }).waitFor({ timeout: 30_000 });
        await widget.getByRole('button', { name: 'Back' }).first().click();
      }
      await wb.pick('Who may pull from the repository?', 'Public');
      await wb.pick('Which releases should the board follow?', 'stable');
      await wb.pick('Signed releases?', /trust the \d+ key/);
      await wb.pick('Wi-Fi for the board', 'None');
      await wb.pick('Fleet for the board', 'No fleet');
      await wb.pick('Save this configuration?', 'Save');
      // The board learns its new source when the updater (and its ota_config.json) is installed again.
      await wb.command('Notifications: Clear All Notifications');
      await wb.command('MicroPython OTA: Install Updater on Device');
      await wb.notification(/Updater installed/, 120_000);
      // 1.2.0 changes one file: the board pulls that blob by digest, not the release.
      writeFileSync(
        join(folder, 'lib/display.py'),
        `${readFileSync(join(folder, 'lib/display.py'), 'utf8')}\n# 1.2.0\n`,
      );
      await wb.command('MicroPython OTA: Publish Release');
      await wb.input('Version to publish', '1.2.0');
      // Published when the Releases view lists it from the registry (its toast may be gone by then).
      await wb.command('OTA: Focus on Releases View');
      await wb.treeItem(/^stable 1\.2\.0/, 120_000);
      await wb.shot('oci-published');
      await wb.command('MicroPython OTA: Update Device Now');
      await wb.command('OTA: Focus on Devices View');
      await wb.treeItem(/^Virtual board, v1\.2\.0/, 180_000);
      await outputLine('1.2.0', /downloading\s1\.2\.0:\s1\sfile,/);
    },
    { skip: noRegistry },
  );

  it('passes the in-VS-Code suite in the extension host (activation, commands, views, refusals)', async () => {
    const suite = buildSuite(root);
    // A private registry for the suite's ghcr.io sign-in check: 1.0.0 in octocat/app, pushed by the core.
    let priv: TestRegistry | undefined;
    if (!noPrivateRegistry) {
      priv = await startRegistry({ auth: 'htpasswd', user: 'octocat', password: GHCR_TOKEN });
      await publishOci({
        dir: join(folder, 'lib'),
        version: '1.0.0',
        ref: `${priv.host}/octocat/app`,
        credentials: { username: 'octocat', password: GHCR_TOKEN, from: 'e2e' },
      });
      writeFileSync(
        join(dirname(suite), 'registry.json'),
        JSON.stringify({ host: priv.host, login: 'octocat', token: GHCR_TOKEN }),
      );
    }
    try {
      const { code, log } = await wb.runExtensionTests(folder, cs!.extensionDir, suite);
      console.log(log.join('\n'));
      assert.equal(code, 0, `${log.join('\n')}\n${cs!.log().slice(-4000)}`);
    } finally {
      await priv?.close();
    }
  });
});
