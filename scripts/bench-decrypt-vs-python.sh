#!/usr/bin/env bash
# Bidstream decryption of the same v4 token by euid-client and by the official Python SDK
# (uid2-client, the interop venv of scripts/test-setup.sh), one after the other in one run:
# the Python SDK mints the token with the bench's keys, times its own decrypt (best of 5),
# then `cargo bench -p euid-client --bench decrypt` decrypts that token (EUID_BENCH_TOKEN).
# Prints both times and the ratio.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${EUID_TEST_PYTHON:-$root/target/interop-venv/bin/python}
[ -x "$python" ] || { echo "bench-decrypt-vs-python: no $python (run scripts/test-setup.sh)" >&2; exit 1; }
cd "$root"
py=$("$python" crates/euid-client/benches/decrypt_python.py "${1:-2000}")
token=$(printf '%s' "$py" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
py_ns=$(printf '%s' "$py" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["ns_per_decrypt"])')
rust=$(EUID_BENCH_TOKEN=$token cargo bench -q -p euid-client --bench decrypt -- bidstream_decrypt_v4 2>/dev/null)
# criterion: "bidstream_decrypt_v4  time:   [low UNIT median UNIT high UNIT]"
line=$(printf '%s\n' "$rust" | grep -A1 'bidstream_decrypt_v4' | grep -m1 'time:')
rust_ns=$(printf '%s' "$line" | "$python" -c '
import re, sys
m = re.search(r"\[\S+ \S+ (\S+) (\S+) ", sys.stdin.read())
scale = {"ps": 1e-3, "ns": 1, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}[m.group(2)]
print(float(m.group(1)) * scale)')
"$python" -c "
py, rust = $py_ns, $rust_ns
print(f'python uid2-client: {py:,.0f} ns/decrypt')
print(f'euid-client (median): {rust:,.0f} ns/decrypt')
print(f'ratio: {py / rust:.1f}x')"
