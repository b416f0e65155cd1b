#!/usr/bin/env bash
# euid-normalize and euid-tcf build without the standard library (`#![no_std]` + alloc):
# build each with --no-default-features, and check that no dependency has its "std" feature
# on in that build (the host target has std, so a build alone would not notice a dependency
# that needs it). A positive control makes sure the check can see a "std" feature at all.
set -euo pipefail
cd "$(dirname "$0")/.."

std_features() { # CRATE [cargo flags...] -> lines naming a dependency's "std" feature
  local crate=$1
  shift
  for dep in base64 sha2 thiserror serde; do
    cargo tree --locked -p "$crate" "$@" -e normal,features -i "$dep" 2>/dev/null |
      grep -E "^[├└│ ─]*$dep feature \"std\"" || true
  done
}

for variant in "euid-normalize" "euid-tcf" "euid-tcf --features serde"; do
  read -r crate flags <<<"$variant"
  # shellcheck disable=SC2086
  cargo build --locked -p "$crate" --no-default-features $flags
  # shellcheck disable=SC2086
  found=$(std_features "$crate" --no-default-features $flags)
  if [ -n "$found" ]; then
    echo "check-no-std: $variant pulls in std:" >&2
    echo "$found" >&2
    exit 1
  fi
done
if [ -z "$(std_features euid-normalize)" ]; then
  echo "check-no-std: the check does not see std features (positive control failed)" >&2
  exit 1
fi
echo "check-no-std: euid-normalize and euid-tcf build with alloc only"
