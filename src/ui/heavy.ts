// Everything the commands run, bundled apart from activation (dist/commands.js), so starting
// the extension parses only the light part. Loaded once, on the first command: see load-heavy.ts.
export { generateManifest } from './actions/manifest';
export { publishRelease } from './actions/publish';
export { installUpdater } from './actions/install';
export {
  confirmUpdate,
  copyReleaseUrl,
  openRelease,
  rollbackDevice,
  stopWatching,
  updateDevice,
  updateToRelease,
  watchDevice,
} from './actions/device';
export { startVirtualBoard } from './actions/virtual-board';
export { selectPort } from './actions/select-port';
export { configureDevice } from './actions/configure';
export { createSigningKey } from './actions/signing-key';
export { serveReleases, stopServing } from './actions/serve';
export { openRepl } from './actions/repl';
export { compareBoardFile, deleteBoardFile, downloadBoardFile, openBoardFile } from './actions/files';
export { boardProbe } from './board-probe';
export { loadReleases } from './release-source';
export { openBoard } from '../core/serial/board';
export { watchConsole } from '../core/serial/console';
export { workspaceVersion } from './workspace-version';
export * as fleet from './fleet-heavy';
