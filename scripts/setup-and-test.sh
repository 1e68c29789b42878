#!/usr/bin/env bash
# The whole set-up and test run on a fresh Debian box, in one command (as root, for apt-get):
#   sudo bash scripts/setup-and-test.sh
# Installs the Debian packages the suite uses (scripts/debian-packages.txt), then `npm ci`, then
# `npm test` with any arguments given here. Not root: the packages are checked, not installed, and
# the suite names any that is missing. .ci/run calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

mapfile -t PKGS < <(grep -v '^\s*#' scripts/debian-packages.txt | awk 'NF { print $1 }')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

npm ci --no-audit --no-fund
npm test -- "$@"
