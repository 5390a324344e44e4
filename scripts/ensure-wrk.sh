#!/usr/bin/env bash
# Make sure wrk (the HTTP load generator `make bench` drives the gateway with) is on PATH.
# Installs it from Debian's packages as root if missing, otherwise says what to do.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "wrk is not installed: installing it from Debian's packages..."
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
else
  echo "error: wrk is not installed. Install it (Debian/Ubuntu: apt-get install wrk;" >&2
  echo "macOS: brew install wrk; or build https://github.com/wg/wrk) and run make bench again." >&2
  exit 1
fi
command -v wrk >/dev/null 2>&1 || { echo "error: installing wrk failed" >&2; exit 1; }
echo "wrk installed: $(command -v wrk)"
