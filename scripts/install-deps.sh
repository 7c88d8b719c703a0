#!/usr/bin/env bash
# Installs what fieldwatch needs and is missing, and nothing else: Debian packages
# (broker, time-series store, database, node), uv, the locked Python environment
# and the locked node packages. Safe to run again: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
say() { printf '[deps] %s\n' "$*"; }

# --- Debian packages ------------------------------------------------------
need=()
# chromium and a CJK font: the console's pages are tested in a real browser, in Chinese.
for pkg in mosquitto mosquitto-clients influxdb postgresql chromium fonts-wqy-microhei; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  need+=(nodejs npm)
fi
if ! command -v python3 >/dev/null 2>&1; then
  need+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need+=(python3-venv)
fi
# PyPI and the npm registry are reached over TLS.
[ -f /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
if [ ${#need[@]} -gt 0 ]; then
  say "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's packages start their own system-wide daemons; fieldwatch starts its
  # own isolated ones, so a policy-rc.d refusal keeps installs from starting them.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.fieldwatch
  chmod +x /usr/sbin/policy-rc.d.fieldwatch
  had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  [ $had_policy = 1 ] || cp /usr/sbin/policy-rc.d.fieldwatch /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need[@]}"
  [ $had_policy = 1 ] || rm -f /usr/sbin/policy-rc.d
  rm -f /usr/sbin/policy-rc.d.fieldwatch
fi

# --- uv -------------------------------------------------------------------
UV=""
if command -v uv >/dev/null 2>&1 && [ "$(uv --version | awk '{print $2}')" = "$UV_VERSION" ]; then
  UV=$(command -v uv)
elif [ -x .tools/uv/bin/uv ]; then
  UV=.tools/uv/bin/uv
else
  say "installing uv $UV_VERSION into .tools/uv"
  python3 -m venv .tools/uv
  .tools/uv/bin/pip install -q "uv==$UV_VERSION"
  UV=.tools/uv/bin/uv
fi

# --- Python environment (from uv.lock, never re-resolved) -------------------
# The system's certificate store, as pip, npm and apt use: a site that inspects
# TLS with its own authority installs it there, and uv's built-in roots lack it.
UV_SYSTEM_CERTS=1 "$UV" sync --frozen --quiet --python python3

# --- node packages (from package-lock.json) --------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing node packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- the console's browser assets (from node_modules into the package) -------
if [ ! -f cloud/console/static/vendor/assets.json ] \
   || [ package-lock.json -nt cloud/console/static/vendor/assets.json ] \
   || [ scripts/vendor-console-assets.mjs -nt cloud/console/static/vendor/assets.json ]; then
  node scripts/vendor-console-assets.mjs
fi
