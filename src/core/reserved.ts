// Board files that belong to the updater or the board, never to a release: the same tuple as
// device/ota/reserved.py (a test holds them equal). The board refuses a manifest that writes or
// deletes them (`reserved_path`); the host never releases them. Compared case-insensitively
// because FAT folds case (".OTA/x" lands in ".ota/x"). See docs/protocols.md, "Reserved paths".
export const RESERVED = ['ota_config.json', 'version.json', 'boot.py', '.ota', 'ota'] as const;

export type ReservedPath = (typeof RESERVED)[number];

/** The reserved entry `path` is or lies under (case-insensitively), else undefined. */
export function reservedPath(path: string): ReservedPath | undefined {
  const p = path.toLowerCase();
  return RESERVED.find((r) => p === r || p.startsWith(r + '/'));
}

/** Why each reserved path is the board's, in words a user can act on. */
export const RESERVED_WHY: Record<ReservedPath, string> = {
  'ota_config.json': "the board's own updater config (URL, token, keys), written by `ota install`",
  'version.json': "the board's record of its installed release, written by the updater",
  'boot.py': 'the boot hook `ota install` writes (it runs ota.boot() first)',
  '.ota': "the updater's journal and staging folder on the board (and this tool's output folder)",
  ota: 'the updater package itself, installed and updated by `ota install`',
};
