// "Serve Releases Locally": the static release folder over HTTP from this computer (the core's
// serveFolder: Range, ETag, gzip), at the address the device configuration names, with a
// status-bar item while it runs; "Stop Serving Releases" ends it.
import { mkdir } from 'node:fs/promises';
import * as vscode from 'vscode';
import { OtaError } from '../../core/errors';
import { formatBytes } from '../../core/event-text';
import { boardUrl, listenPlan } from '../../core/local-host';
import type { Controller } from '../controller';
import { STATE, workspaceRoot } from '../settings';

export async function serveReleases(ctl: Controller): Promise<string> {
  const running = ctl.served();
  if (running) {
    void vscode.window.showInformationMessage(`Releases are served at ${running.url}.`, 'Stop').then((b) => {
      if (b === 'Stop') void vscode.commands.executeCommand('ota.stopServing');
    });
    return running.url;
  }
  const root = workspaceRoot();
  if (!root) throw new OtaError('no_workspace', 'Open the folder of your MicroPython project first.');
  const s = ctl.settings();
  if (s.source === 'static' && s.staticUrl && !listenPlan(s.staticUrl))
    throw new OtaError(
      'not_local',
      `Boards are configured for ${s.staticUrl}, which is not this computer: run Configure Device and choose "This computer" to serve releases from here.`,
    );
  const dir = vscode.Uri.joinPath(root, s.staticOutDir).fsPath;
  await mkdir(dir, { recursive: true });
  // The port Configure Device chose (the board already has it), else any free one.
  const plan = listenPlan(s.source === 'static' ? s.staticUrl : undefined) ??
    ctl.context.workspaceState.get<{ host: string; port: number }>(STATE.serve) ?? {
      host: '127.0.0.1',
      port: 0,
    };
  const { serveFolder } = await import('../../core/publish/serve');
  const server = await serveFolder(dir, {
    host: plan.host,
    port: plan.port,
    onRequest: (r) =>
      ctl.output.info(
        `[serve] ${r.method} ${r.path} ${r.status} ${formatBytes(r.bytes)}${r.range ? ` ${r.range}` : ''}`,
      ),
  }).catch((err: unknown) => {
    if (err instanceof OtaError && err.code === 'port_in_use')
      throw new OtaError(
        'port_in_use',
        `Port ${plan.port} is in use by another program: stop it, or run Configure Device to pick another port.`,
      );
    throw err;
  });
  const url = boardUrl(plan.host, server.port);
  ctl.setServed({ url, dir, close: () => server.close() });
  ctl.output.info(`Serving ${dir} at ${url}`);
  if (s.source !== 'static' || !s.staticUrl)
    void vscode.window
      .showInformationMessage(
        `Serving releases at ${url}. Point the board at it with Configure Device.`,
        'Configure Device',
      )
      .then((b) => b && vscode.commands.executeCommand('ota.configureDevice'));
  await ctl.checkForUpdates(false).catch(() => undefined);
  return url;
}

export async function stopServing(ctl: Controller): Promise<void> {
  const running = ctl.served();
  if (!running) return;
  ctl.setServed(undefined);
  await running.close();
  ctl.output.info(`Stopped serving ${running.url}`);
}
