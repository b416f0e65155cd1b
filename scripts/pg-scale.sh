#!/usr/bin/env bash
# The sizing run of docs/DEPLOYMENT.md: a PostgreSQL store with the full 1,048,576 salt
# buckets and N opt-outs, and what a replica needs to start on it (time to listening, and
# resident memory, with no opt-outs and with N).
#
#   scripts/pg-scale.sh [OPTOUTS]      # default 10000000
#
# Env: EUID_BIN_DIR (default target/release: build with
# `cargo build --release -p euid-operator -p euid-cli`), or EUID_OPERATOR and EUID_CLI for
# the two binaries (the CLI only sets the data up, a debug build does); PG_SCALE_DIR
# (default a new temporary directory; removed at the end). Needs Debian's postgresql (scripts/pg-cluster.sh
# installs it) and python3. It takes minutes and gigabytes: CI does not run it.
set -euo pipefail

optouts=${1:-10000000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${EUID_BIN_DIR:-$root/target/release}
work=${PG_SCALE_DIR:-$(mktemp -d)}
mkdir -p "$work"
# The cluster runs as `postgres` when this runs as root: it must reach its directory.
chmod 0755 "$work"
operator=${EUID_OPERATOR:-$bin/euid-operator}
cli=${EUID_CLI:-$bin/euid}
for b in "$cli" "$operator"; do
  [ -x "$b" ] || { echo "pg-scale: $b is missing (cargo build --release -p euid-operator -p euid-cli)" >&2; exit 2; }
done

cleanup() {
  bash "$root/scripts/pg-cluster.sh" stop "$work/cluster" || true
  rm -rf "$work"
}
trap cleanup EXIT

url=$(bash "$root/scripts/pg-cluster.sh" start "$work/cluster")
echo "pg-scale: cluster at ${url%%:euid-test@*}:***@${url#*@}" >&2

# A data directory with the full salt set: euid init's, widened to 1,048,576 buckets of
# random salts in the same file format, then imported.
"$cli" init "$work/dd" --no-demo-client >/dev/null
python3 - "$work/dd/salts" <<'EOF'
import base64, json, os, sys
d = sys.argv[1]
first = open(os.path.join(d, "salts.txt")).readline().rstrip("\n").split(",")
n = 1 << 20
with open(os.path.join(d, "salts.txt"), "w") as f:
    for i in range(n):
        row = [str(i), first[1], base64.b64encode(os.urandom(32)).decode()] + [""] * (len(first) - 3)
        f.write(",".join(row) + "\n")
meta_path = os.path.join(d, "metadata.json")
meta = json.load(open(meta_path))
meta["salts"][0]["size"] = n
json.dump(meta, open(meta_path, "w"), indent=2)
EOF
"$cli" import --from "$work/dd" --store "$url" >/dev/null

# Start a replica, report seconds to "listening" and its resident memory, stop it.
measure() {
  local label=$1 log="$work/replica.log" start end pid rss
  start=$(date +%s.%N)
  "$operator" --store "$url" --listen 127.0.0.1:0 --access-log off >"$log" 2>&1 &
  pid=$!
  until grep -q "is listening on" "$log"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.05
  done
  end=$(date +%s.%N)
  sleep 1
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" || true
  echo "$label: started in $(python3 -c "print(round($end - $start, 2))") s, resident ${rss} KiB" >&2
  echo "$rss"
}

base_rss=$(measure "1,048,576 salt buckets, 0 opt-outs")

echo "pg-scale: inserting $optouts opt-outs" >&2
t0=$(date +%s)
psql "$url" -q -v ON_ERROR_STOP=1 <<EOF
INSERT INTO optouts (first_level_hash, advertising_id, opted_out_ms, seq)
  SELECT sha256(int8send(g)), '\x01'::bytea || sha256(int8send(-g)), 1700000000000 + g, g
  FROM generate_series(1, $optouts) AS g;
SELECT setval('optout_seq', $optouts);
VACUUM ANALYZE optouts;
EOF
echo "pg-scale: inserted in $(( $(date +%s) - t0 )) s; table $(psql "$url" -qAt -c "SELECT pg_size_pretty(pg_total_relation_size('optouts'))")" >&2

full_rss=$(measure "1,048,576 salt buckets, $optouts opt-outs")
per=$(( (full_rss - base_rss) * 1024 / optouts ))
echo "pg-scale: $per bytes of resident memory per opt-out record; $(( 1073741824 / (per > 0 ? per : 1) )) records per GiB" >&2
