#!/usr/bin/env bash
# Installs what the dashboard's browser tests need (packages/dashboard/src/
# browser.test.ts): Debian's chromium, driven by playwright-core through its
# executablePath (/usr/bin/chromium, or CHROMIUM_PATH). Installs only when it
# is missing; uses sudo when not root. .ci/run and the `engines` job of
# .github/workflows/ci.yml call it.
#
#   bash scripts/install-chromium.sh
set -euo pipefail

if [[ -n "${CHROMIUM_PATH:-}" ]]; then
  echo "Chromium: using CHROMIUM_PATH ($CHROMIUM_PATH)"
  exit 0
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium with apt-get"
  sudo=()
  [[ $EUID -ne 0 ]] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "Chromium: $(chromium --version 2>/dev/null | head -1) (the dashboard's browser tests run it headless)"
