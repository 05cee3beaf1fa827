#!/usr/bin/env bash
# Debian's chromium for the dashboard's browser tests (Playwright drives it; Playwright's own
# browser download does not work on these machines and is never used). Installs the package
# when /usr/bin/chromium is missing (as root), then prints the export that scripts/test.sh
# evals. Messages go to stderr so that stdout stays eval-able.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "browser.sh: installing Debian's chromium for the dashboard tests" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else
    echo "browser.sh: $CHROMIUM is missing; install Debian's chromium as root" \
         "(apt-get install chromium) to run the browser tests" >&2
  fi
fi
echo "export MODELYARD_TEST_CHROMIUM=$CHROMIUM"
