#!/usr/bin/env bash
# Where the release operator's CPU goes per request, beside the bare echo of bench-http.sh:
#   scripts/profile-http.sh [SECONDS]          (default 4 s of profile per server)
# Starts euid-operator (defaults) and euid-echo as scripts/bench-http.sh does, drives each with
# the same wrk load (1 thread, $CONNECTIONS connections, default 32), records the server's
# threads with `perf record -e cpu-clock -F 999 --call-graph dwarf` (installs linux-perf when
# perf is missing; no hardware counters are needed) and prints scripts/profile-breakdown.py's
# table: worker CPU per request, split into the pipeline, each system call and user-space
# groups. On a machine shared with other work run it as `chrt -f 10 scripts/profile-http.sh`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-4}
connections=${CONNECTIONS:-32}
for tool in wrk perf; do
  if ! command -v "$tool" >/dev/null; then
    pkg=$tool; [ "$tool" = perf ] && pkg=linux-perf
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  fi
done
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
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

op_port=$(free_port)
"$bin/euid-operator" --data-dir "$work/data" --listen "127.0.0.1:$op_port" >"$work/operator.out" 2>"$work/operator.log" &
op_pid=$!; pids+=("$op_pid")
echo_port=$(free_port)
"$bin/euid-echo" --listen "127.0.0.1:$echo_port" 2>"$work/echo.log" &
echo_pid=$!; pids+=("$echo_pid")
wait_port "$op_port"; wait_port "$echo_port"
api_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$work/data/demo-client.json")

profile() { # NAME PID PORT PATH AUTH
  "$bin/euid-seal" --demo "$work/data" --kind generate --count 5000 --out "$work/bodies.lua"
  EUID_WRK_BODIES="$work/bodies.lua" EUID_WRK_PATH=$4 EUID_WRK_AUTH=$5 \
    wrk -t1 -c"$connections" -d"$((seconds + 2))s" -s benches/wrk/cycle.lua "http://127.0.0.1:$3" >"$work/wrk.out" &
  local wrk_pid=$!
  sleep 1
  perf record -q -e cpu-clock -F 999 --call-graph dwarf,32768 -p "$2" -o "$work/perf.data" -- sleep "$seconds" >/dev/null 2>&1
  wait "$wrk_pid"
  local rps requests
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
  requests=$(python3 -c "print(int($rps * $seconds))")
  echo "== $1: $rps requests/s under wrk ($connections connections); profile of $seconds s ≈ $requests requests"
  perf script -i "$work/perf.data" -F comm,ip,sym,dso 2>/dev/null | python3 scripts/profile-breakdown.py 999 "$requests"
}
profile echo "$echo_pid" "$echo_port" /v2/token/generate ""
profile generate "$op_pid" "$op_port" /v2/token/generate "Bearer $api_key"
