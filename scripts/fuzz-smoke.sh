#!/usr/bin/env bash
# Builds every fuzz target, replays its committed seeds, and runs it for a few seconds
# (default 5) from its seed corpus.
#
# Fails when `cargo fuzz list` fails or lists nothing, when a target has no seeds, and when
# no seed of a target reaches the code behind its first check: every target reports
# `euid-fuzz: reached <what>` (fuzz/src/lib.rs) the first time an input gets past
# decryption / authentication / parsing into the part it exists to fuzz, so a wrong key or
# a stale seed can never make a target blind without this script noticing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi
cd "$root/fuzz"
if ! targets=$(cargo +nightly fuzz list); then
  echo "fuzz-smoke: 'cargo +nightly fuzz list' failed" >&2
  exit 1
fi
if [ -z "$targets" ]; then
  echo "fuzz-smoke: 'cargo +nightly fuzz list' lists no targets" >&2
  exit 1
fi
count=0
for target in $targets; do
  corpus="corpus/$target"
  if ! compgen -G "$corpus/seed-*" >/dev/null; then
    echo "fuzz-smoke: $target has no committed seeds in fuzz/$corpus" >&2
    exit 1
  fi
  echo "fuzz-smoke: $target, replaying the seeds" >&2
  # -runs=0 executes the seed corpus once and stops.
  if ! replay=$(cargo +nightly fuzz run "$target" "$corpus" -- -runs=0 -rss_limit_mb=2048 2>&1); then
    printf '%s\n' "$replay" | tail -n 30 >&2
    echo "fuzz-smoke: $target failed on its seeds" >&2
    exit 1
  fi
  if ! reached=$(printf '%s\n' "$replay" | grep '^euid-fuzz: reached '); then
    printf '%s\n' "$replay" | tail -n 30 >&2
    echo "fuzz-smoke: no seed of $target reaches past its first check (no 'euid-fuzz: reached' line)" >&2
    exit 1
  fi
  printf '%s\n' "$reached" | sed "s/^/fuzz-smoke: $target: /" >&2
  echo "fuzz-smoke: $target for ${secs}s" >&2
  cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$secs" -rss_limit_mb=2048 2>&1 | tail -n 2
  count=$((count + 1))
done
echo "fuzz-smoke: $count targets built, seeds reach past their first check, ran ${secs}s each" >&2
