#!/usr/bin/env bash
# Builds every fuzz target and runs each for a few seconds (default 5) from its seed corpus.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi
cd "$root/fuzz"
for target in $(cargo +nightly fuzz list); do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  echo "fuzz-smoke: $target for ${secs}s" >&2
  cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$secs" -rss_limit_mb=2048 2>&1 | tail -n 2
done
