#!/usr/bin/env bash
# Runs every check of the project on a fresh Debian 12 machine with Rust stable:
# installs the system packages the tests need, then fmt, clippy and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test
rustup component add rustfmt clippy >/dev/null 2>&1 || true

if [[ ! -d ../shared/data ]]; then
  echo "test.sh: ../shared/data (the shared test data) is missing beside the repository" >&2
  exit 1
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace --all-targets
cargo test --workspace --doc
