#!/usr/bin/env bash
# How the operator's cost grows, measured on the release binary with wrk, then drawn:
#   scripts/bench-growth.sh [SECONDS]            (default 5 s per wrk run)
# Writes JSON to target/bench-growth/ and PNGs to docs/img/ (scripts/plot-growth.py, with
# matplotlib from a venv it creates under target/plot-venv). Parts (PARTS, default all):
#   connections  generate throughput and p50/p99 against wrk connections 1..256
#   optouts      start-up time, RSS, generate/refresh latency with 0, 1 M and 10 M stored
#                opt-outs (OPTOUT_COUNTS), all with 1,048,576 salt buckets; memory per record
#   map          5,000-identity /v3/identity/map requests: identities/s, and generate latency
#                while they run
# Data directories (salts + opt-out DB, made by euid-optout-db) are kept in
# target/bench-growth/data-N and reused. On a machine shared with other work, run it as
#   chrt -f 10 scripts/bench-growth.sh     (see docs/PERFORMANCE.md)
# Binds 127.0.0.1 only. PLOT=0 skips the drawing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-5}
parts=${PARTS:-connections optouts map}
counts=${OPTOUT_COUNTS:-0 1000000 10000000}
out="$root/target/bench-growth"
mkdir -p "$out"

if ! command -v wrk >/dev/null; then
  echo "bench-growth: installing wrk" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --locked -p euid-operator -p euid-benches \
  --bin euid-operator --bin euid-seal --bin euid-optout-db >&2
bin="$root/target/release"

work=$(mktemp -d)
op_pid=
cleanup() {
  if [ -n "$op_pid" ]; then kill "$op_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_s() { date +%s.%N; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

data_dir() { # COUNT -> path of a data dir with 2^20 salt buckets and COUNT opt-outs
  local d="$out/data-$1"
  if [ ! -f "$d/.complete" ]; then
    rm -rf "$d"
    "$bin/euid-optout-db" --data-dir "$d" --count "$1" >&2
    touch "$d/.complete"
  fi
  echo "$d"
}

start_operator() { # DATA_DIR: starts it, sets op_pid/op_port/api_key/startup_s/startup_rss_kib
  op_port=$(free_port)
  local t0 t1
  t0=$(now_s)
  "$bin/euid-operator" --data-dir "$1" --listen "127.0.0.1:$op_port" >"$work/operator.out" 2>"$work/operator.log" &
  op_pid=$!
  # Ready = the health check answers 200 (the port is bound before the data is loaded).
  for _ in $(seq 6000); do
    if curl -fs -o /dev/null "http://127.0.0.1:$op_port/ops/healthcheck" 2>/dev/null; then break; fi
    kill -0 "$op_pid" 2>/dev/null || { cat "$work/operator.log" >&2; return 1; }
    sleep 0.01
  done
  t1=$(now_s)
  startup_s=$(python3 -c "print(round($t1 - $t0, 3))")
  startup_rss_kib=$(rss_kib "$op_pid")
  api_key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$1/demo-client.json")
}

stop_operator() {
  kill "$op_pid" 2>/dev/null || true
  wait "$op_pid" 2>/dev/null || true
  op_pid=
}

wrk_json() { # CONNECTIONS SECONDS PATH BODIES AUTH -> the JSON line of cycle.lua; fails on errors
  local out json
  out=$(EUID_WRK_BODIES=$4 EUID_WRK_PATH=$3 EUID_WRK_AUTH=$5 \
    wrk -t1 -c"$1" -d"$2s" --timeout 10s -s benches/wrk/cycle.lua "http://127.0.0.1:$op_port")
  json=$(sed -n 's/^wrk-json: //p' <<<"$out")
  if [ -z "$json" ] || ! python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(d["non_200"] or d["socket_errors"])' "$json"; then
    echo "bench-growth: wrk run on $3 failed:" >&2
    echo "$out" >&2
    return 1
  fi
  echo "$json"
}

seal() { # KIND COUNT DATA_DIR FILE
  "$bin/euid-seal" --demo "$3" --url "http://127.0.0.1:$op_port" --kind "$1" --count "$2" --out "$4"
}

machine() { printf '"load_before":"%s","nproc":%s' "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"; }

for part in $parts; do
  case $part in
  connections)
    dir=$(data_dir 0)
    start_operator "$dir"
    rows=()
    for c in 1 2 4 8 16 32 64 128 256; do
      seal generate 5000 "$dir" "$work/generate.lua"
      j=$(wrk_json "$c" "$seconds" /v2/token/generate "$work/generate.lua" "Bearer $api_key")
      echo "connections $c: $j" >&2
      rows+=("{\"connections\":$c,\"generate\":$j}")
    done
    stop_operator
    (IFS=,; echo "{$(machine),\"seconds\":$seconds,\"rows\":[${rows[*]}]}") >"$out/connections.json"
    ;;
  optouts)
    rows=()
    for n in $counts; do
      dir=$(data_dir "$n")
      start_operator "$dir"
      seal refresh 5000 "$dir" "$work/refresh.lua"
      seal generate 5000 "$dir" "$work/generate.lua"
      g=$(wrk_json 8 "$seconds" /v2/token/generate "$work/generate.lua" "Bearer $api_key")
      r=$(wrk_json 8 "$seconds" /v2/token/refresh "$work/refresh.lua" "")
      rss=$(rss_kib "$op_pid")
      echo "opt-outs $n: start-up ${startup_s}s, RSS ${startup_rss_kib} KiB (after load ${rss} KiB); generate $g; refresh $r" >&2
      rows+=("{\"optouts\":$n,\"salt_buckets\":1048576,\"startup_s\":$startup_s,\"rss_kib_ready\":$startup_rss_kib,\"rss_kib_after_load\":$rss,\"generate\":$g,\"refresh\":$r}")
      stop_operator
    done
    (IFS=,; echo "{$(machine),\"seconds\":$seconds,\"connections\":8,\"rows\":[${rows[*]}]}") >"$out/optouts.json"
    ;;
  map)
    dir=$(data_dir 0)
    start_operator "$dir"
    seal map 20 "$dir" "$work/map.lua"
    alone_map=$(wrk_json 1 "$seconds" /v3/identity/map "$work/map.lua" "Bearer $api_key")
    seal generate 5000 "$dir" "$work/generate.lua"
    alone_gen=$(wrk_json 8 "$seconds" /v2/token/generate "$work/generate.lua" "Bearer $api_key")
    rows=()
    for m in 1 2 4; do
      seal map 20 "$dir" "$work/map.lua"
      seal generate 5000 "$dir" "$work/generate.lua"
      wrk_json "$m" "$seconds" /v3/identity/map "$work/map.lua" "Bearer $api_key" >"$work/map.json" &
      map_pid=$!
      g=$(wrk_json 8 "$seconds" /v2/token/generate "$work/generate.lua" "Bearer $api_key")
      wait "$map_pid"
      mj=$(cat "$work/map.json")
      echo "map connections $m: map $mj; generate alongside $g" >&2
      rows+=("{\"map_connections\":$m,\"map\":$mj,\"generate\":$g}")
    done
    stop_operator
    (IFS=,; echo "{$(machine),\"seconds\":$seconds,\"identities_per_request\":5000,\"generate_connections\":8,\"map_alone\":$alone_map,\"generate_alone\":$alone_gen,\"rows\":[${rows[*]}]}") >"$out/map.json"
    ;;
  *)
    echo "bench-growth: unknown part $part" >&2
    exit 2
    ;;
  esac
done

if [ "${PLOT:-1}" != 0 ]; then
  venv="$root/target/plot-venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q matplotlib
  fi
  "$venv/bin/python" scripts/plot-growth.py "$out" docs/img
fi
