#!/usr/bin/env bash
# Installs code-server 4.100.3 (the newest for Node 20) into .tools/code-server for the
# real-VS-Code end-to-end test. It stays outside package.json: ~300 MB with native builds.
# Idempotent: a finished install is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.100.3
DEST="$PWD/.tools/code-server"
BIN="$DEST/node_modules/code-server/out/node/entry.js"
if [ -f "$BIN" ] && [ -f "$DEST/.installed-$VERSION" ]; then
  exit 0
fi
command -v rg >/dev/null || { echo "install-code-server: ripgrep (rg) missing; run scripts/install-system-deps.sh" >&2; exit 1; }
mkdir -p "$DEST" "$DEST/tmp"
# @vscode/ripgrep downloads rg from GitHub, which this network cannot reach; it looks in
# its cache first, so put Debian's rg there under the name it expects.
CACHE="$DEST/tmp/vscode-ripgrep-cache-1.15.11"
ARCHIVE="$CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -f "$ARCHIVE" ]; then
  # It unpacks into its bin/ folder: rg sits at the archive's root.
  mkdir -p "$CACHE/rgpkg"
  cp "$(command -v rg)" "$CACHE/rgpkg/rg"
  tar -C "$CACHE/rgpkg" -czf "$ARCHIVE" rg
  rm -rf "$CACHE/rgpkg"
fi
[ -f "$DEST/package.json" ] || echo '{"name":"ota-tools-code-server","private":true}' >"$DEST/package.json"
# As root, node-pty's build runs `npx node-gyp` and needs unsafe-perm and yes. HOME stays
# the user's so npm's own settings (registry, nodedir for node-gyp headers) still apply.
(
  cd "$DEST"
  TMPDIR="$DEST/tmp" npm_config_unsafe_perm=true npm_config_yes=true \
    npm install --no-audit --no-fund --loglevel=error "code-server@$VERSION"
)
[ -f "$BIN" ] || { echo "install-code-server: $BIN missing after install" >&2; exit 1; }
touch "$DEST/.installed-$VERSION"
