#!/usr/bin/env bash
# The operator as a user runs it, under an outside load generator:
#   scripts/bench-http.sh [ROUNDS] [SECONDS]        (defaults: 3 rounds of 10 s)
# Builds the release euid-operator and a bare axum echo server (benches/src/bin/euid-echo.rs,
# same tokio/hyper/axum, same worker count), then in each round drives, one after the other,
# the echo, /v2/token/generate and /v2/token/refresh with wrk (1 thread, $CONNECTIONS
# connections, default 32), cycling through $BODIES (default 5000) bodies sealed just before
# the run (envelopes expire after the skew window). The operator runs with its defaults (log
# level info, its own logging to a file). Prints requests/s, p50 and p99 per run, and last
#   ratio generate=X.XX refresh=Y.YY
# the mean over rounds of each endpoint's requests/s over the echo's in the same round.
# Fails if any run answers anything but 200. Binds 127.0.0.1 only. OPERATOR_ARGS adds flags to
# the operator (e.g. OPERATOR_ARGS="--access-log off" to measure the access log's cost).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${1:-3}
seconds=${2:-10}
connections=${CONNECTIONS:-32}
bodies=${BODIES:-5000}

if ! command -v wrk >/dev/null; then
  echo "bench-http: installing wrk" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --locked -p euid-operator -p euid-benches --bin euid-operator --bin euid-echo --bin euid-seal >&2
bin="$root/target/release"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # PORT: until something accepts on it (10 s at most)
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "bench-http: nothing listens on 127.0.0.1:$1" >&2
  return 1
}

op_port=$(free_port)
# shellcheck disable=SC2086
"$bin/euid-operator" --data-dir "$work/data" --listen "127.0.0.1:$op_port" ${OPERATOR_ARGS:-} >"$work/operator.out" 2>"$work/operator.log" &
pids+=($!)
echo_port=$(free_port)
"$bin/euid-echo" --listen "127.0.0.1:$echo_port" 2>"$work/echo.log" &
pids+=($!)
wait_port "$op_port"
wait_port "$echo_port"
api_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$work/data/demo-client.json")

"$bin/euid-seal" --demo "$work/data" --url "http://127.0.0.1:$op_port" --kind refresh --count "$bodies" --out "$work/refresh.lua"

run() { # NAME PORT PATH BODIES AUTH -> prints "NAME rps p50 p99", fails on a non-200
  local name=$1 port=$2 path=$3 file=$4 auth=$5 out
  out=$(EUID_WRK_BODIES=$file EUID_WRK_PATH=$path EUID_WRK_AUTH=$auth \
    wrk -t1 -c"$connections" -d"${seconds}s" --latency -s benches/wrk/cycle.lua "http://127.0.0.1:$port")
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/^non-200:/ {print $2}' <<<"$out")
  if [ -z "$rps" ] || [ "${bad:-x}" != 0 ] || grep -q "Socket errors" <<<"$out"; then
    echo "bench-http: $name run failed:" >&2
    echo "$out" >&2
    return 1
  fi
  printf '%-9s %10s req/s  p50 %-9s p99 %s\n' "$name" "$rps" "$p50" "$p99" >&2
  echo "$name $rps"
}

results="$work/results"
: >"$results"
for round in $(seq "$rounds"); do
  echo "round $round/$rounds (${seconds}s each, $connections connections)" >&2
  "$bin/euid-seal" --demo "$work/data" --kind generate --count "$bodies" --out "$work/generate.lua"
  run echo "$echo_port" /v2/token/generate "$work/generate.lua" "" | sed "s/^/$round /" >>"$results"
  "$bin/euid-seal" --demo "$work/data" --kind generate --count "$bodies" --out "$work/generate.lua"
  run generate "$op_port" /v2/token/generate "$work/generate.lua" "Bearer $api_key" | sed "s/^/$round /" >>"$results"
  run refresh "$op_port" /v2/token/refresh "$work/refresh.lua" "" | sed "s/^/$round /" >>"$results"
done

awk '
  { rps[$1, $2] = $3; n = ($1 > n ? $1 : n) }
  END {
    for (r = 1; r <= n; r++) { g += rps[r, "generate"] / rps[r, "echo"]; f += rps[r, "refresh"] / rps[r, "echo"] }
    printf "ratio generate=%.2f refresh=%.2f\n", g / n, f / n
  }' "$results"
