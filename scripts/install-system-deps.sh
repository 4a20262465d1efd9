#!/usr/bin/env bash
# Debian packages the tools and tests use: socat (virtual board's pseudo-terminal),
# udev (udevadm, which serialport's port listing calls).
set -euo pipefail
need=()
command -v socat >/dev/null || need+=(socat)
command -v udevadm >/dev/null || need+=(udev)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
