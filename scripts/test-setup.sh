#!/usr/bin/env bash
# Installs everything the test suite needs beyond the Rust toolchain, idempotently:
# a Python venv with the pinned official SDK and JSON-schema validator
# (tests/interop/requirements.txt), and the npm packages of the JS tests.
# Prints the environment the tests read; fails loudly when something cannot be built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

requirements="$root/tests/interop/requirements.txt"
venv="$root/target/interop-venv"

# Rebuilt whenever the pinned requirements change (the copy of the file in the venv says
# what it holds). `python -m pip`, not `bin/pip`: a copied venv's scripts name the original.
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
  echo "test-setup: creating $venv from tests/interop/requirements.txt" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
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
