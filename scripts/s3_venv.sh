#!/usr/bin/env bash
# moto's S3-compatible server (PyPI `moto[server]`) for the object-storage tests and the
# scale-out benchmark, in a venv under the target folder. Prints the path of its `moto_server`.
# It speaks path-style plain HTTP and keeps everything in memory (DESIGN.md).
#   scripts/s3_venv.sh        create it when missing (needs PyPI once), print moto_server's path
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/s3-venv"
if ! "$venv/bin/python" -c "import moto.server, flask" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q "moto[server]==5.2.6" >&2
fi
echo "$venv/bin/moto_server"
