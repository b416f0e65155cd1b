#!/usr/bin/env bash
# Installs everything the test suite needs beyond the Rust toolchain, idempotently:
# a Python venv with the pinned official SDK, and the npm packages of the JS tests.
# Prints the environment the tests read; fails loudly when something cannot be built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

UID2_CLIENT_VERSION=2.9.0
venv="$root/target/interop-venv"

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import uid2_client, sys; from importlib.metadata import version; sys.exit(version('uid2-client') != '$UID2_CLIENT_VERSION')" 2>/dev/null; then
  echo "test-setup: creating $venv with uid2-client==$UID2_CLIENT_VERSION" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "uid2-client==$UID2_CLIENT_VERSION"
fi

# Headless Chromium for the browser test (examples/publisher-page/browser-test.mjs).
if [ ! -x /usr/bin/chromium ]; then
  echo "test-setup: installing chromium" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# npm packages for the JS-side tests (TCF differential, browser SDK), pinned by lockfile.
for dir in tests/js examples/publisher-page; do
  if [ -f "$dir/package.json" ]; then
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
      echo "test-setup: npm ci in $dir" >&2
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
      touch "$dir/node_modules"
    fi
  fi
done
