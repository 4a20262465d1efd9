#!/usr/bin/env bash
# Debian packages the tests use: socat (only the test of the pseudo-terminal fallback;
# the virtual board needs nothing but Node),
# udev (udevadm, which serialport's port listing calls), mosquitto (fleet).
set -euo pipefail
need=()
command -v socat >/dev/null || need+=(socat)
# openssl: test certificate authorities (the TLS tests make a CA, server and client certificates).
command -v openssl >/dev/null || need+=(openssl)
command -v udevadm >/dev/null || need+=(udev)
# The real-VS-Code end-to-end test: Chromium drives code-server; code-server's
# install needs ripgrep (cached, not downloaded) and libkrb5-dev (kerberos build).
command -v chromium >/dev/null || need+=(chromium)
command -v rg >/dev/null || need+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
# OCI registry tests: the CNCF distribution registry, skopeo (interop), htpasswd (bcrypt entries
# for the registry's htpasswd auth), openssl (the token-auth test's signing certificate).
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v htpasswd >/dev/null || need+=(apache2-utils)
# A real web server for static releases (the nginx interop test, and the static baseline of
# `npm run bench oci`): Debian's nginx, the smallest package with the static file module (nginx-light
# only adds an echo module to it). The tests start their own, unprivileged, from a config of their own.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
# Fleet tests and bench: a real MQTT broker with a password file and TLS from a local CA.
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null || need+=(mosquitto-clients)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
