#!/usr/bin/env bash
# Long fuzz runs, one target at a time: scripts/fuzz-long.sh [RUNS] [TARGET...]
# RUNS defaults to 10,000,000 executions; with no targets, every target of `cargo fuzz list`.
# Each run starts from the committed seeds (fuzz/corpus/<target>/seed-*) and grows a working
# corpus under $FUZZ_WORK (default /tmp/euid-fuzz). The libFuzzer log of each target goes to
# $FUZZ_WORK/logs/<target>.log; a crash input lands in $FUZZ_WORK/artifacts/<target>/.
# FUZZ_MAX_SECONDS, if set, also stops each run after that many seconds (final stats are still
# printed), for a time-boxed session.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10000000}
shift || true
work=${FUZZ_WORK:-/tmp/euid-fuzz}
cd "$root/fuzz"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p "$work/logs"
status=0
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  artifacts="$work/artifacts/$target"
  mkdir -p "$corpus" "$artifacts" "corpus/$target"
  log="$work/logs/$target.log"
  echo "fuzz-long: $target, $runs runs, log $log" >&2
  start=$(date -u +%s)
  cargo +nightly fuzz run "$target" "$corpus" "corpus/$target" -- \
    -runs="$runs" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" ${FUZZ_MAX_SECONDS:+-max_total_time="$FUZZ_MAX_SECONDS"} \
    >"$log" 2>&1
  rc=$?
  end=$(date -u +%s)
  echo "fuzz-long: $target exit $rc, wall $((end - start)) s" | tee -a "$log" >&2
  [ $rc -eq 0 ] || status=1
done
exit $status
