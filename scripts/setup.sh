#!/usr/bin/env bash
# Everything a fresh Debian machine needs before `npm run demo` / `npm test`: Debian's DejaVu fonts (plots)
# and chromium (the HTML report test opens reports in it), then the pinned npm dependencies (`npm ci`, which
# also builds the WebAssembly kernels). Installs only what is missing; needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
fc-list 2>/dev/null | grep -qi "DejaVu Sans" || need+=(fonts-dejavu-core)
command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM_PATH:-}" ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
npm ci --no-audit --no-fund
