#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every test (interop with the
# official SDK included), benchmark builds, and a fuzz smoke run (nightly; required under CI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*" >&2; }

step "test set-up (Python venv with uid2-client, npm packages)"
bash scripts/test-setup.sh
export EUID_TEST_PYTHON="$root/target/interop-venv/bin/python"
export EUID_TEST_JS_DIR="$root/tests/js"

step "PostgreSQL throw-away cluster (127.0.0.1, free port; stopped on exit)"
pg_dir=$(mktemp -d -u "${TMPDIR:-/tmp}/euid-pg.XXXXXX")
trap 'bash "$root/scripts/pg-cluster.sh" stop "$pg_dir"' EXIT
EUID_TEST_POSTGRES_URL=$(bash scripts/pg-cluster.sh start "$pg_dir")
export EUID_TEST_POSTGRES_URL

step "cargo fmt"
cargo fmt --all -- --check
# fuzz/ is its own workspace (nightly only to build, not to format).
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

step "module import cycles"
python3 scripts/check-import-cycles.py --self-test
python3 scripts/check-import-cycles.py

step "docs/api.html is rendered from the current docs/openapi.yaml"
"$EUID_TEST_PYTHON" scripts/render-api-docs.py --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# euid-token alone, without the legacy-v2 feature the CLI turns on in workspace builds.
cargo clippy -p euid-token --lib --locked -- -D warnings
# euid-cstg with its pure-Rust ECDH backend alone (workspace builds turn on both backends).
cargo clippy -p euid-cstg --all-targets --no-default-features --features pure-rust --locked -- -D warnings

step "no_std builds (euid-normalize, euid-tcf)"
bash scripts/check-no-std.sh

step "cargo test (unit, integration, doc)"
cargo test --workspace --locked

step "euid-cstg with each ECDH backend alone (the workspace run above had both on)"
cargo test -p euid-cstg --locked
cargo test -p euid-cstg --no-default-features --features pure-rust --locked

step "cargo doc (rustdoc warnings denied: broken intra-doc links fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "browser test (publisher page, EUID browser SDK, headless Chromium)"
if command -v node >/dev/null; then
  cargo build --bin euid-operator --bin euid --locked
  node examples/publisher-page/browser-test.mjs
elif [ -n "${CI:-}" ]; then
  echo "browser test: node is missing (required in CI)" >&2
  exit 1
else
  echo "browser test skipped: node is missing" >&2
fi

step "cargo package (every publishable crate builds from its package alone)"
# The verify builds take our crates from a throw-away registry at the same version every
# run, and cargo treats registry sources as immutable: an earlier run's unpacked copy in
# CARGO_HOME and its dev-profile artifacts in target/ would be reused and verify stale code.
# Drop both first (release artifacts stay for the bench build).
mapfile -t ws_crates < <(cargo metadata --no-deps --format-version 1 --locked |
  python3 -c 'import json,sys; [print(p["name"], p["version"]) for p in json.load(sys.stdin)["packages"]]')
clean_args=()
for entry in "${ws_crates[@]}"; do
  read -r name version <<<"$entry"
  clean_args+=(-p "$name")
  rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$name-$version"
done
cargo clean --profile dev "${clean_args[@]}"
cargo package --workspace --exclude euid-benches --exclude euid-test-support

step "cargo bench --no-run"
cargo bench --workspace --locked --no-run

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  step "fuzz smoke run"
  bash scripts/fuzz-smoke.sh "${EUID_FUZZ_SECONDS:-5}"
elif [ -n "${CI:-}" ]; then
  # CI machines ship a nightly toolchain: without it the fuzz targets would go unbuilt.
  echo "fuzz smoke run: no nightly toolchain (required in CI)" >&2
  exit 1
else
  step "fuzz smoke run skipped: no nightly toolchain"
fi

step "all checks passed"
